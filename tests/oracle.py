"""The reference applier as the tests' oracle, for any decoded JSON value.

``Projection.apply`` refuses a ``str`` at the top (raw JSON passed by mistake would come back
whole); a JSON document that is a string goes through inside an array instead, which rule 6
projects element by element, and which leaves a primitive as it is (rule 7).
"""

from __future__ import annotations

from typing import Any

from projection import Projection


def reference(parsed: Projection, document: Any) -> Any:
    """What ``parsed`` makes of the decoded ``document``, whatever value it is."""
    if isinstance(document, str):
        return parsed.apply([document])[0]
    return parsed.apply(document)
