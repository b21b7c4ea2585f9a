"""The bytes API: the compiled fast path and its generic fallback against the reference applier.

Internals reached: each way of the fast path alone (``tests/internals.py``); the bulk engine's
``project_block`` and ``project_stream`` and the collector pause they share with it
(``projection._compile.collector_paused``); the UTF-8 scanner (``projection._scan.invalid_utf8``).
"""

from __future__ import annotations

import gc
import io
import itertools
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec
import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

import projection
from projection import PayloadError, ProjectionCache, _bulk
from projection._bulk import collector_paused
from projection._scan import invalid_utf8
from projection._stream import project_stream

from . import internals
from .internals import project_generic as generic
from .oracle import reference
from .strategies import documents, expressions, json_texts

flags = st.booleans()


@given(expressions, documents, flags)
def test_bytes_api_gives_the_reference_result(
    text: str, document: Any, case_insensitive: bool
) -> None:
    parsed = projection.parse(text, case_insensitive=case_insensitive)
    projected = parsed.project(orjson.dumps(document))
    # Re-serialised so that key order counts.
    assert orjson.dumps(orjson.loads(projected)) == orjson.dumps(reference(parsed, document))


@given(expressions, st.data(), flags)
def test_fast_path_and_fallback_give_identical_bytes(
    text: str, data: st.DataObject, case_insensitive: bool
) -> None:
    parsed = projection.parse(text, case_insensitive=case_insensitive)
    document = data.draw(json_texts)
    fast = parsed.project(document)
    assert fast == generic(parsed, document)
    assert orjson.dumps(orjson.loads(fast)) == orjson.dumps(
        reference(parsed, orjson.loads(document))
    )


def test_selected_values_are_copied_byte_for_byte() -> None:
    data = b'{ "a" : 1.50E+3 , "b":"\\u00e9\\n\\/", "c" : [ 1 ,\n 2 ], "d": {"e" : -0.0}, "f": 1 }'
    parsed = projection.parse("c,a,b,d")
    expected = b'{"c":[ 1 ,\n 2 ],"a":1.50E+3,"b":"\\u00e9\\n\\/","d":{"e" : -0.0}}'
    assert parsed.project(data) == expected
    assert generic(parsed, data) == expected
    in_document_order = b'{"a":1.50E+3,"b":"\\u00e9\\n\\/","c":[ 1 ,\n 2 ],"d":{"e" : -0.0}}'
    assert projection.parse("-f").project(data) == in_document_order


@pytest.mark.parametrize("text", ["", "*", " * ", "*(*)"])
def test_keeping_everything_returns_the_input_itself_once_checked(text: str) -> None:
    data = b' {"a": [1, 2], "b": "\xc3\xa9"}\n'
    assert projection.parse(text).project(data) is data
    with pytest.raises(projection.PayloadError) as garbage:
        projection.parse(text).project(data + b"trailing garbage")
    assert garbage.value.pos == len(data)
    with pytest.raises(projection.PayloadError) as not_utf8:
        projection.parse(text).project(b'{"a": "\xc3"}')
    assert not_utf8.value.pos == 7


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b'"just a string"', b'"just a string"'),
        (b" 12.50 ", b"12.50"),
        (b"null", b"null"),
        (b'[{"a": 1, "b": 2}, 3, [{"a": [4]}], null]', b'[{"a":1},3,[{"a":[4]}],null]'),
        (b'{"a": "not an object", "b": 1}', b'{"a":"not an object"}'),
        (b'{"a": {"b": 1, "a": 2}, "a": {"c": 3}}', b'{"a":{"c": 3}}'),
    ],
)
def test_any_shape_of_document(data: bytes, expected: bytes) -> None:
    parsed = projection.parse("a")
    assert parsed.project(data) == expected
    assert generic(parsed, data) == expected


def test_duplicate_keys_keep_their_first_position_and_last_value() -> None:
    data = b'{"a": 1, "b": 2, "a": 3}'
    assert projection.parse("-b").project(data) == b'{"a":3}'
    assert projection.parse("b,a").project(data) == b'{"b":2,"a":3}'


def test_keys_are_written_as_standard_json_strings() -> None:
    data = b'{"t\\u0061b\\t\\u0001\\"\\\\": 1, "\\u00e9": 2}'
    assert projection.parse("-x").project(data) == '{"tab\\t\\u0001\\"\\\\":1,"é":2}'.encode()


@pytest.mark.parametrize(
    ("data", "pos"),
    [
        (b'{"a": 1,, "b": 2}', 8),
        (b'{"a": [1, 2}', 11),
        (b'{"a": 1} x', 9),
        (b'{"a": [1, 2', 11),
        (b"", 0),
    ],
)
def test_invalid_json_says_where(data: bytes, pos: int) -> None:
    for parsed in (projection.parse("a"), projection.parse("-b")):
        with pytest.raises(PayloadError) as caught:
            parsed.project(data)
        # The typed and the generic decoder may word the fault differently, never place it so;
        # the wording after the colon is the decoder's, and changes with its version.
        assert str(caught.value).startswith(f"invalid JSON at byte {pos}: ")
        assert caught.value.pos == pos


def test_nesting_too_deep_for_the_decoder_is_a_payload_error() -> None:
    data = b'{"a": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    for text in ("a", "-b", "a(b)"):
        with pytest.raises(PayloadError, match="nests deeper"):
            projection.parse(text).project(data)


_NEAR_THE_LIMIT: dict[str, Callable[[int], bytes]] = {
    "an object in arrays": lambda k: b"[" * k + b"{}" + b"]" * k,
    "a number and an object in arrays": lambda k: b"[" * k + b"1,{}" + b"]" * k,
    "a ticket's path in arrays": lambda k: (
        b"[" * k + b'{"customerAccount":{"contacts":[{"address":1}]}}' + b"]" * k
    ),
    "arrays beside numbers": lambda k: b"[" * k + b"{},1" + b"],1" * (k - 1) + b"]",
    "two chains of arrays": lambda k: (
        b"[" + b"[" * k + b"{}" + b"]" * k + b"," + b"[" * k + b"1,{}" + b"]" * k + b"]"
    ),
}


@pytest.mark.parametrize("shape", list(_NEAR_THE_LIMIT))
def test_json_near_the_depth_limit_is_projected_or_refused_at_the_limit(shape: str) -> None:
    """Valid JSON around the decoder's limit, which the projection decodes in parts a few frames
    deeper than it validated it: projected whole, or refused at a bracket that opens the same
    level (give or take one) whatever the depth of the data, as deeper JSON is."""
    make = _NEAR_THE_LIMIT[shape]
    parsed = projection.parse("customerAccount(contacts(address)),accessToken")
    parsed.project(b"{}")  # compiled from the second use on, as a gateway's projection is
    accepted, refused, levels = [], [], set()
    for depth in range(900, 1010):
        data = make(depth)
        try:
            output = parsed.project(data)
        except PayloadError as error:
            refused.append(depth)
            pos = error.pos
        else:
            accepted.append(depth)
            assert output == data  # compact, and every key selected
            continue
        assert pos is not None
        assert data[pos] in b"[{"
        before = data[:pos]
        levels.add(before.count(b"[") - before.count(b"]") + before.count(b"{") + 1)
    # The limit lies in the range: both outcomes are tested.
    assert accepted
    assert refused
    assert max(accepted) < min(refused)
    # The level named is one the accepted data does not reach (give or take one), and the
    # refused data does.
    assert max(levels) - min(levels) <= 1
    assert _deepest(make(max(accepted))) - 1 <= min(levels)
    assert max(levels) <= _deepest(make(min(refused)))


def test_json_too_deep_for_a_caller_near_the_interpreters_limit_is_a_payload_error() -> None:
    """Called with only a few frames to spare, the projection still refuses JSON it cannot
    decode with a ``PayloadError``, placed where the search for the byte has the stack to run,
    and never lets a ``RecursionError`` escape."""
    parsed = projection.parse("a")
    parsed.project(b"{}")
    parsed.project(b"{}")  # compiled, which takes frames of its own
    data = b"[" * 5000 + b"]" * 5000
    outcomes = [_refusal_at(spare, parsed, data) for spare in range(_SPARE, _SPARE + 40)]
    assert set(outcomes) <= {"placed", "unplaced"}
    assert outcomes[-1] == "placed"


# The frames a caller must leave below the interpreter's limit for the projection to refuse
# deep JSON with its own error: its calls down to the decoder, and building the error, take
# that many; with fewer, any Python function would fail.
_SPARE = 8


def _refusal_at(spare: int, parsed: projection.Projection, data: bytes) -> str:
    """How ``parsed`` refuses ``data`` when called ``spare`` frames short of the limit."""
    # The limit counts calls through C as well (pytest makes some): found by reaching it.
    return _deeper(_frames_left() - spare, parsed, data)


def _frames_left(frames: int = 0) -> int:
    try:
        return _frames_left(frames + 1)
    except RecursionError:
        return frames


def _deeper(frames: int, parsed: projection.Projection, data: bytes) -> str:
    return _deeper(frames - 1, parsed, data) if frames > 0 else _refusal(parsed, data)


def _refusal(parsed: projection.Projection, data: bytes) -> str:
    try:
        parsed.project(data)
    except PayloadError as error:
        return "unplaced" if error.pos is None else "placed"
    return "accepted"


def _deepest(data: bytes) -> int:
    """How deep ``data`` nests, for JSON without brackets in strings."""
    steps = {ord("["): 1, ord("{"): 1, ord("]"): -1, ord("}"): -1}
    return max(itertools.accumulate(steps.get(byte, 0) for byte in data))


@pytest.mark.parametrize("text", ["-b", "*", "a,*", "a(-b)", "*(-b)"])
def test_a_key_that_is_not_unicode_is_a_payload_error_at_the_key(text: str) -> None:
    data = b'{"a": {}, "\xff": 1}'
    if projection.parse(text).apply({"a": {}, "other": 1}) == {"a": {}}:
        # A key the projection skips is not read as text, so it is not checked: on the first
        # use (the generic way) as on later ones (compiled).
        parsed = projection.parse(text)
        assert parsed.project(data) == parsed.project(data) == b'{"a":{}}'
    else:
        with pytest.raises(PayloadError) as invalid:
            projection.parse(text).project(data)
        assert invalid.value.pos == 11
    with pytest.raises(PayloadError) as surrogate:
        projection.parse(text).project(b'{"a": {}, "\\ud800": 1}')
    assert surrogate.value.pos == 11  # the escape itself


def test_case_insensitive_matching_on_bytes() -> None:
    parsed = projection.parse("customeraccount(FIRSTNAME),b", case_insensitive=True)
    data = b'{"B": 0, "CustomerAccount": {"firstName": "A", "lastName": "B"}, "b": 1}'
    assert parsed.project(data) == b'{"CustomerAccount":{"firstName":"A"},"B":0,"b":1}'


def test_project_lines_takes_bytes_files_and_iterables(tmp_path: Path) -> None:
    text = b'{"a": 1, "b": 2}\n\n  \r\n{"b": 3}\r\n{"a": [1]}'
    expected = [b'{"a":1}\n', b"{}\n", b'{"a":[1]}\n']
    parsed = projection.parse("a")
    assert list(parsed.project_lines(text)) == expected
    assert list(parsed.project_lines(io.BytesIO(text))) == expected
    assert list(parsed.project_lines(text.split(b"\n"))) == expected
    path = tmp_path / "lines.ndjson"
    path.write_bytes(text)
    with path.open("rb") as source:
        assert list(parsed.project_lines(source)) == expected


def test_project_lines_names_the_invalid_line() -> None:
    lines = projection.parse("a").project_lines(b'{"a": 1}\n\n{"a": 2,}\n{"a": 3}\n')
    assert next(lines) == b'{"a":1}\n'
    with pytest.raises(PayloadError, match=r"^line 3: invalid JSON") as caught:
        next(lines)
    assert caught.value.line == 3
    assert caught.value.pos == 8
    assert str(caught.value).startswith("line 3: invalid JSON at byte 8: ")


def test_the_kibo_collection_envelope() -> None:
    data = b'{"items": [{"productCode": "P1", "price": {"price": 9.5}}, {"productCode": "P2"}],'
    data += b' "totalCount": 2, "pageSize": 20}'
    parsed = projection.parse("items(productCode),totalCount")
    assert (
        parsed.project(data)
        == b'{"items":[{"productCode":"P1"},{"productCode":"P2"}],"totalCount":2}'
    )


def test_the_cache_is_bounded_and_counts_hits() -> None:
    cache = ProjectionCache(maxsize=2)
    assert cache.project("a", b'{"a": 1, "b": 2}') == b'{"a":1}'
    assert cache.project("a", b'{"a": 3}') == b'{"a":3}'
    cache.project("b", b"{}")
    cache.project("c", b"{}")
    assert len(cache) == 2
    assert (cache.hits, cache.misses) == (1, 3)
    assert projection.project("-b", b'{"a": 1, "b": 2}') == b'{"a":1}'
    with pytest.raises(ValueError, match="maxsize"):
        ProjectionCache(maxsize=0)


_STATM = Path("/proc/self/statm")


def _resident_bytes() -> int:
    pages = int(_STATM.read_text().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE")


@pytest.mark.slow
@pytest.mark.skipif(not _STATM.exists(), reason="resident memory is read from /proc (Linux)")
def test_memory_stays_flat_over_50000_distinct_expressions() -> None:
    cache = ProjectionCache(maxsize=256)
    data = b'{"a": {"b": [1, 2]}, "c": "d"}'
    samples = []
    for number in range(50_000):
        cache.project(f"a(b,x{number}),c,-y{number % 7}", data)
        if number % 10_000 == 9_999:
            gc.collect()
            samples.append(_resident_bytes())
    assert len(cache) == 256
    growth = samples[-1] - samples[0]
    assert growth < 8 * 2**20, f"resident memory grew by {growth / 2**20:.1f} MiB: {samples}"


@pytest.mark.parametrize("text", ["a", "-b", "a(b)", "*(a)"])
def test_arrays_nested_as_deep_as_the_decoder_allows(text: str) -> None:
    depth = 900
    data = b"[" * depth + b'{"a": {"b": 1}, "b": 2}, 3' + b"]" * depth
    parsed = projection.parse(text)
    assert parsed.project(data) == generic(parsed, data)
    assert orjson.loads(parsed.project(data)) == parsed.apply(orjson.loads(data))


@pytest.mark.parametrize(
    "lines",
    [
        b'{"a": 1, "b": 2}\n{"a":\n2, "b": 3}\n',  # a value broken over two lines
        b'{"a": 2, "b": 3} {"a": 4}\n{"a": 5}\n',  # two values on one line
        b'{"a": 1}\n\x0b\n{"a": 2}\n',  # a vertical tab is not JSON white space
        b'{"a": 1}\n  \t\r\n{"a": 2}\r\n',  # blank lines and CRLF are fine
    ],
)
@pytest.mark.parametrize("text", ["a", "-b"])
def test_ndjson_lines_are_judged_one_by_one_whatever_the_path(lines: bytes, text: str) -> None:
    parsed = projection.parse(text)
    expected: list[bytes | str] = []
    for line in lines.split(b"\n"):
        try:
            expected.extend(parsed.project_lines([line]))
        except PayloadError:
            expected.append("rejected")
    rejected: list[PayloadError] = []
    output = io.BytesIO()
    project_stream(internals.compiled(parsed), io.BytesIO(lines), output, on_error=rejected.append)
    assert output.getvalue() == b"".join(line for line in expected if isinstance(line, bytes))
    assert len(rejected) == expected.count("rejected")


def test_invalid_bulk_input_names_the_document() -> None:
    data = b'[{"a": "x,y]"}, {"a": [1, {"b": 2}]}, {"a": 1,}, {"a": 3}]'
    for text in ("a", "-b"):
        with pytest.raises(PayloadError) as caught:
            projection.parse(text).project(data)
        assert caught.value.index == 2
        assert str(caught.value).startswith("invalid JSON at byte 46 (document 2 of the array): ")


def test_text_after_an_array_is_in_none_of_its_documents() -> None:
    for data, pos in ((b'[{"a":1},{"a":2}] x', 18), (b"[[[1]],[2]]\n ]", 13)):
        for text in ("a", "-b"):
            with pytest.raises(PayloadError) as caught:
                projection.parse(text).project(data)
            assert (caught.value.pos, caught.value.index) == (pos, None)
            assert str(caught.value).startswith(f"invalid JSON at byte {pos}: ")


def test_only_a_process_that_owns_the_collector_pauses_it(monkeypatch: pytest.MonkeyPatch) -> None:
    with collector_paused():
        assert gc.isenabled()  # a library call leaves it alone
    monkeypatch.setattr(_bulk, "_collector_owned", True)  # as the command and workers say
    try:
        with collector_paused():
            assert not gc.isenabled()
        assert gc.isenabled()
        gc.disable()
        with collector_paused():
            pass
        assert not gc.isenabled()  # what it found, not "enabled"
    finally:
        gc.enable()


@pytest.mark.parametrize("threads", [1, 2])
def test_library_calls_leave_the_collector_alone(
    threads: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The collector is process-wide state: projecting in a library call neither pauses it nor
    changes it, in one thread or in several at once, for large bodies and NDJSON blocks too."""
    documents = [b'{"a": [1], "b": [2]}'] * 60_000
    array = b"[" + b",".join(documents) + b"]"
    assert len(array) > 1 << 20
    lines = b"\n".join(documents) + b"\n"
    monkeypatch.setattr(_bulk, "BLOCK_BYTES", 64 << 10)  # bytes in blocks, not line by line
    # An exclusion without a schema rebuilds each document as a dict: containers the collector
    # counts, in every call below.
    parsed = projection.parse("-b")
    parsed.project(b"{}")  # compiled from the second use on
    started: list[int] = []

    def count(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            started.append(info["generation"])

    calls: tuple[Callable[[], object], ...] = (
        lambda: parsed.project(array),
        lambda: projection.project("-b", array),
        lambda: b"".join(parsed.project_lines(lines)),
    )

    def run_all() -> None:
        for call in calls:
            call()

    threshold = gc.get_threshold()
    # A collection every 100 new containers: hundreds while projecting, unless paused.
    gc.set_threshold(100)
    gc.callbacks.append(count)
    try:
        workers = [threading.Thread(target=run_all) for _ in range(threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        running = len(started)
        for call in calls:  # each of them, on its own
            before = len(started)
            call()
            assert len(started) - before > 10
        each = len(started) - running
        gc.disable()
        try:
            run_all()
            assert not gc.isenabled()  # left as it was found
        finally:
            gc.enable()
    finally:
        gc.callbacks.remove(count)
        gc.set_threshold(*threshold)
    assert gc.isenabled()
    assert running > 100  # paused, it saw one at most, between calls
    assert len(started) == running + each  # none while it was disabled


def test_a_failing_projection_leaves_the_collector_running() -> None:
    large = b"[" + b",".join([b'{"a": 1, "b": 2}'] * 100_000)  # over 1 MiB, and cut short
    with pytest.raises(PayloadError):
        projection.parse("a").project(large)
    with pytest.raises(PayloadError):
        project_stream(
            internals.compiled(projection.parse("a")), io.BytesIO(b"not json\n"), io.BytesIO()
        )
    assert gc.isenabled()


@given(expressions, st.data(), flags)
def test_the_first_use_and_the_compiled_path_give_the_same_bytes(
    text: str, data: st.DataObject, case_insensitive: bool
) -> None:
    document = data.draw(json_texts)
    fresh = projection.parse(text, case_insensitive=case_insensitive)
    first = fresh.project(document)  # the generic way, nothing compiled
    assert fresh.project(document) == first  # compiled from the second use on
    assert first == generic(fresh, document)


def test_the_first_use_builds_no_msgspec_types(monkeypatch: pytest.MonkeyPatch) -> None:
    built: list[str] = []
    defstruct = msgspec.defstruct

    def counted(name: str, *args: Any, **kwargs: Any) -> Any:
        built.append(name)
        return defstruct(name, *args, **kwargs)

    monkeypatch.setattr(msgspec, "defstruct", counted)
    parsed = projection.parse("customerAccount(contacts(address)),accessToken")
    data = b'{"accessToken": "t", "customerAccount": {"contacts": [{"address": {"a": 1}}]}}'
    expected = b'{"customerAccount":{"contacts":[{"address":{"a": 1}}]},"accessToken":"t"}'
    assert parsed.project(data) == expected
    assert built == []
    assert parsed.project(data) == expected
    assert len(built) == 3  # the hot projection: one Struct per node


@pytest.mark.parametrize("text", ["keep", "-skip", "keep,other"])
def test_kept_invalid_utf8_is_placed_at_its_source_when_a_skipped_copy_precedes_it(
    text: str,
) -> None:
    # The same bytes skipped first, then kept: their text alone cannot say which was copied.
    data = b'{"skip": "a\xffb", "keep": "a\xffb", "other": 1}'
    with pytest.raises(PayloadError) as caught:
        projection.parse(text).project(data)
    assert caught.value.pos == data.rindex(b"\xff")
    unique = b'{"skip": "a\xffb", "keep": "c\xffd"}'
    with pytest.raises(PayloadError) as placed:
        projection.parse(text).project(unique)
    assert placed.value.pos == unique.rindex(b"\xff")


@pytest.mark.parametrize("offset", [-3, -2, -1, 0, 1, 2, 3])
@pytest.mark.parametrize("bad", [b"\xff", b"\x80", b"\xe2\x9c", b"\xf0\x9d\x84"])
def test_large_output_is_checked_for_utf8_piece_by_piece(offset: int, bad: bytes) -> None:
    # Characters of 1 to 4 bytes, cut anywhere by the pieces the check reads.
    text = ("héllo wörld ✓ 𝄞 " * 8000).encode()
    assert invalid_utf8(text) is None
    for piece in (1 << 15, 2 << 15):
        spoiled = text[: piece + offset] + bad + text[piece + offset :]
        with pytest.raises(UnicodeDecodeError) as caught:
            spoiled.decode()
        assert invalid_utf8(spoiled) == caught.value.start
    assert invalid_utf8(text[:-2]) == len(text) - 5  # a character cut at the very end
