"""Hostile input, family by family: what a gateway in front of traffic is sent on purpose.

Each family is generated (hypothesis, or a table where the family is finite) and its results are
checked against an oracle that does not share the library's code: the reference applier on
orjson's decoding of the valid input, and positions worked out here from how the input was
built. Checked: the error's type and position, that nothing the projection drops leaks into the
output, that no NDJSON line is lost. No timings: what these inputs cost is measured by
``python -m benchmarks --only hostile``, never asserted in a test.
"""

from __future__ import annotations

import pytest

import projection
from projection import PayloadError

# -- invalid UTF-8 ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "sequence",
    [b"\xff", b"\xc0\xaf", b"\xe0\x80\xaf", b"\xed\xa0\x80", b"\xe2\x82", b"\xc3\xa9\x80"],
)
def test_a_kept_fault_after_more_than_64_skipped_ones_is_found(sequence: bytes) -> None:
    # Past 64 runs of invalid bytes the search narrows down stretches of the input; a stretch
    # holding a sequence of several invalid bytes could not be split, and the search spun.
    skipped = b",".join(b'"s%d":"\xff"' % number for number in range(70))
    data = b"{" + skipped + b',"a":"ok' + sequence + b'"}'
    with pytest.raises(PayloadError) as caught:
        projection.parse("a").project(data)
    fault = data.rindex(sequence) + (2 if sequence == b"\xc3\xa9\x80" else 0)
    assert caught.value.pos == fault
