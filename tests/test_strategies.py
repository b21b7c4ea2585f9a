"""The shared strategies draw what the properties need: documents their projection changes.

A property such as "the fast path gives the reference's result" holds trivially on a document the
projection leaves whole, so most draws must change their document. Measured over a fixed
(derandomized) run of draws, so that the shares do not move from one run to the next.
"""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

import projection

from .oracle import reference
from .strategies import documents_with_expressions, expressions


def changed_share(pairs: st.SearchStrategy[tuple[Any, str]]) -> float:
    """The share of ``(document, expression)`` draws whose projection changes the document."""
    changed: list[bool] = []

    @settings(
        max_examples=100,
        derandomize=True,
        database=None,
        phases=[Phase.generate],
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(pairs)
    def draw(pair: tuple[Any, str]) -> None:
        document, text = pair
        changed.append(reference(projection.parse(text), document) != document)

    draw()
    return sum(changed) / len(changed)


def test_expressions_built_from_a_document_s_keys_mostly_change_it() -> None:
    assert changed_share(documents_with_expressions) > 0.7


def test_few_expressions_keep_the_whole_document() -> None:
    kept_whole: list[bool] = []

    @settings(max_examples=100, derandomize=True, database=None, phases=[Phase.generate])
    @given(expressions)
    def draw(text: str) -> None:
        kept_whole.append(str(projection.parse(text)) == "")

    draw()
    assert sum(kept_whole) / len(kept_whole) < 0.1
