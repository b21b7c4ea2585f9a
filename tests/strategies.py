"""Hypothesis strategies shared by the property tests: expressions and JSON documents.

Expressions are generated from the grammar (with random white space), documents from JSON values
whose keys are drawn from the same small pool of names, so projections and documents overlap.

A property of a projection proves little on a document the projection leaves as it is, so the
draws are weighted towards changing it: the empty expression and ``*`` are rare, documents are
mostly objects, and ``expressions_for(document)`` builds expressions from a document's own keys.
``tests/test_strategies.py`` measures the share of draws that change.
"""

from __future__ import annotations

import bisect
import itertools
import re
from collections.abc import Iterator
from typing import Any, TypeVar

from hypothesis import strategies as st

T = TypeVar("T")


def weighted(*choices: tuple[int, st.SearchStrategy[T]]) -> st.SearchStrategy[T]:
    """One of the strategies, each drawn about ``weight`` times in the sum of the weights.

    Shrinks towards the first one.
    """
    bounds = list(itertools.accumulate(weight for weight, _ in choices))
    strategies = [strategy for _, strategy in choices]
    return st.integers(0, bounds[-1] - 1).flatmap(
        lambda drawn: strategies[bisect.bisect_right(bounds, drawn)]
    )


# Names that stress the grammar: quoting, case folding, punctuation that is ordinary in a name.
KEY_POOL = [
    "a",
    "b",
    "c",
    "A",
    "B",
    "ß",
    "SS",
    "é",
    "x-y",
    "a.b",
    "",
    "*",
    "-k",
    "two words",
    "q`t",
]
_QUOTE_NEEDED = re.compile(r"[,()/*`\x20\t\r\n]")

# Mostly a few plain names, so that expressions and documents often meet on the same keys.
keys = st.one_of(st.sampled_from(["a", "b", "c"]), st.sampled_from(KEY_POOL))
_white_space = st.sampled_from(["", "", "", " ", "\t", "\n", " \r\n "])


def quote(name: str) -> str:
    """``name`` as it must be written in an expression."""
    if name and not name.startswith("-") and not _QUOTE_NEEDED.search(name):
        return name
    return "`" + name.replace("`", "``") + "`"


# A name as an expression writes it: quoted, "*", or an identifier (never starting with "-": a
# "-" before a name is an exclusion). ``NAME.findall(text)`` is the names of a valid expression.
NAME = re.compile(r"`(?:[^`]|``)*`|\*|[^,()/`*\s-][^,()/`*\s]*")


def _spaced(text: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.tuples(_white_space, text, _white_space).map("".join)


# ``*`` keeps every key not named beside it: one name in eight, so that most selections name keys.
_names = weighted((7, keys.map(quote)), (1, st.just("*")))
_paths = st.lists(_spaced(_names), min_size=1, max_size=3).map("/".join)


def _items(selection: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    bare = _paths
    grouped = st.tuples(_paths, selection).map(lambda pair: f"{pair[0]}({pair[1]})")
    excluded = _paths.map(lambda path: "-" + path)
    return st.one_of(bare, grouped, excluded)


def _selection(items: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.lists(items, min_size=1, max_size=4).map(",".join)


def item_lists(max_size: int = 5) -> st.SearchStrategy[list[str]]:
    """The items of one top-level selection, to be joined with commas in any order."""
    return st.lists(_items(selections), min_size=1, max_size=max_size)


selections: st.SearchStrategy[str] = st.recursive(
    _selection(st.one_of(_paths, _paths.map(lambda path: "-" + path))),
    lambda inner: _selection(_items(inner)),
    max_leaves=12,
)
# Every expression the grammar accepts; the empty one, which keeps everything, now and then.
expressions: st.SearchStrategy[str] = weighted((15, selections), (1, st.just("")))

_primitives = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**53), max_value=2**53),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=5),
)

_values: st.SearchStrategy[Any] = st.recursive(
    _primitives,
    lambda children: weighted(
        (2, st.dictionaries(keys, children, max_size=6)), (1, st.lists(children, max_size=4))
    ),
    max_leaves=30,
)
# Objects at the top, as API payloads are, with objects likely one level down too; an empty
# object, which no projection changes, or one of a single key only now and then.
objects: st.SearchStrategy[dict[str, Any]] = weighted(
    (15, st.dictionaries(keys, _values, min_size=2, max_size=8)),
    (1, st.dictionaries(keys, _values, max_size=1)),
)
# Any JSON value: mostly objects, then arrays (bulk input, rule 6), then primitives (rule 7).
documents: st.SearchStrategy[Any] = weighted(
    (6, objects), (2, st.lists(_values, max_size=4)), (1, _primitives)
)


def _key_paths(document: Any) -> Iterator[tuple[str, ...]]:
    """Every path of keys in ``document``, through arrays (rule 6), each at most three deep."""
    stack: list[tuple[Any, tuple[str, ...]]] = [(document, ())]
    while stack:
        value, path = stack.pop()
        if isinstance(value, list):
            stack.extend((element, path) for element in value)
        elif isinstance(value, dict) and len(path) < 3:
            for key, inner in value.items():
                yield (*path, key)
                stack.append((inner, (*path, key)))


@st.composite
def expressions_for(draw: st.DrawFn, document: Any) -> str:
    """Expressions that name paths of ``document``: includes, exclusions, and includes of a key
    narrowed by an exclusion below it (``a(-b/c)``), mixed with any other items, so that most of
    them change it."""
    paths = sorted(set(_key_paths(document)))
    if not paths:
        return draw(expressions)
    # Below the first name, now and then ``*`` or another key instead of the document's.
    other = weighted((12, st.none()), (1, st.just("*")), (1, keys.map(quote)))
    items = []
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["include", "exclude", "exclude", "narrowed", "any"]))
        if kind == "any":
            items.append(draw(_items(selections)))  # anything the grammar allows
            continue
        path = draw(st.sampled_from(paths))
        first, rest = quote(path[0]), [draw(other) or quote(key) for key in path[1:]]
        if kind == "narrowed" and rest:
            item = f"{first}(-{'/'.join(rest)})"
        else:
            item = ("-" if kind == "exclude" else "") + "/".join([first, *rest])
        items.append(draw(_spaced(st.just(item))))
    return ",".join(items)


# A document, most often an object or an array of objects, and an expression built from its keys.
documents_with_expressions: st.SearchStrategy[tuple[Any, str]] = weighted(
    (4, objects), (1, st.lists(objects, min_size=1, max_size=4)), (1, documents)
).flatmap(lambda document: st.tuples(st.just(document), expressions_for(document)))

# Arbitrary text, weighted towards the characters the grammar cares about.
texts = st.text(alphabet=st.sampled_from(list("ab-*,()/` \t\nAé.")), max_size=24) | st.text(
    max_size=24
)


def _spell_string(draw: st.DrawFn, text: str) -> str:
    """``text`` as a JSON string, some characters written as escapes, as other encoders do."""
    spelled = []
    for character in text:
        if character in '"\\' or ord(character) < 0x20 or draw(st.integers(0, 9)) == 0:
            spelled.append(f"\\u{ord(character):04x}" if ord(character) < 0x10000 else character)
        else:
            spelled.append(character)
    return '"' + "".join(spelled) + '"'


@st.composite
def _spelled(draw: st.DrawFn, value: Any) -> str:
    """``value`` as JSON text with random white space, escapes and number spellings."""
    space = _white_space
    if isinstance(value, dict):
        members = [
            f"{draw(space)}{_spell_string(draw, key)}{draw(space)}:{draw(space)}"
            f"{draw(_spelled(item))}{draw(space)}"
            for key, item in value.items()
        ]
        if len(members) > 1 and draw(st.booleans()):
            # A key repeated: it keeps its first position and its last value (rule 9).
            members.append(members[0].split(":")[0] + ":" + members[-1].split(":", 1)[1])
        return "{" + ",".join(members) + (draw(space) if not members else "") + "}"
    if isinstance(value, list):
        items = [f"{draw(space)}{draw(_spelled(item))}{draw(space)}" for item in value]
        return "[" + ",".join(items) + (draw(space) if not items else "") + "]"
    if isinstance(value, str):
        return _spell_string(draw, value)
    if isinstance(value, bool) or value is None:
        return {True: "true", False: "false", None: "null"}[value]
    if isinstance(value, int):
        return draw(st.sampled_from([str(value), f"{value}.0", f"{value}e0", f"{value}E+00"]))
    return repr(float(value))


# Whole JSON documents as bytes, spelt in the many ways JSON allows.
json_texts: st.SearchStrategy[bytes] = st.one_of(objects, documents).flatmap(
    lambda value: st.tuples(_white_space, _spelled(value), _white_space).map(
        lambda parts: "".join(parts).encode("utf-8", "surrogatepass")
    )
)
