"""Every limit at exactly its value (accepted) and one past it (refused), and header names in any
letter case at the middleware's edges.

The limits are grammar/SEMANTICS.md section 5's (length, depth, names, and the same for the
canonical form), ``Projection.from_paths``'s depth, and the middleware's ``max_length`` with the
256 characters of a rejected expression it echoes.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import orjson
import pytest

import projection
from projection import ProjectionLimitError
from projection.asgi import ResponseFieldsMiddleware

from .in_process import respond


def accepted(text: str, **options: Any) -> projection.Projection:
    return projection.parse(text, **options)


def refused(text: str, **options: Any) -> ProjectionLimitError:
    with pytest.raises(ProjectionLimitError) as caught:
        projection.parse(text, **options)
    return caught.value


# -- the expression ---------------------------------------------------------------------------


@pytest.mark.parametrize("limit", [4096, 10, 1, 0])
def test_an_expression_of_exactly_max_length_characters_is_accepted(limit: int) -> None:
    options = {} if limit == 4096 else {"max_length": limit}
    text = " " * (limit - 1) + "a" if limit else ""
    assert str(accepted(text, **options)) == ("a" if limit else "")
    error = refused(text + " ", **options)
    assert (error.pos, error.expression) == (limit, text + " ")


@pytest.mark.parametrize("limit", [32, 1, 128])
@pytest.mark.parametrize("nested", ["{}/{}", "{}({})"])
def test_names_nested_exactly_max_depth_deep_are_accepted(limit: int, nested: str) -> None:
    def deep(depth: int) -> str:
        text = "a"
        for _ in range(depth - 1):
            text = nested.format("a", text)
        return text

    options = {} if limit == 32 else {"max_depth": limit}
    accepted(deep(limit), **options)
    error = refused(deep(limit + 1), **options)
    # The name that crosses the limit: the deepest one.
    assert error.pos == deep(limit + 1).rindex("a")


@pytest.mark.parametrize("limit", [1024, 3, 1, 0])
def test_exactly_max_items_names_are_accepted(limit: int) -> None:
    options = {} if limit == 1024 else {"max_items": limit}
    text = ",".join(["a"] * limit)
    accepted(text, **options)
    more = ",".join(["a"] * (limit + 1))
    assert refused(more, **options).pos == len(more) - 1  # the name one too many


@pytest.mark.parametrize(
    ("options", "valid"),
    [
        ({"max_depth": 1}, True),
        ({"max_depth": 128}, True),
        ({"max_depth": 0}, False),
        ({"max_depth": 129}, False),
        ({"max_length": 0}, True),
        ({"max_length": -1}, False),
        ({"max_items": 0}, True),
        ({"max_items": -1}, False),
    ],
)
def test_the_limits_themselves_are_checked_at_their_bounds(
    options: dict[str, int], valid: bool
) -> None:
    if valid:
        projection.parse("", **options)  # type: ignore[arg-type]
    else:
        with pytest.raises(ValueError, match="must be"):
            projection.parse("", **options)  # type: ignore[arg-type]


# -- the canonical form -----------------------------------------------------------------------
#
# "-*/x" copies "x" into every entry: "k1,k2,-*/x" (10 characters, 4 names) stands for
# "k1(-x),k2(-x)" (13 characters), and "k1,k2,k3,-*/x" (5 names) for "k1(-x),k2(-x),k3(-x)"
# (6 names). The text itself is within the limits; its canonical form is measured.


def test_a_canonical_form_of_exactly_max_length_characters_is_accepted() -> None:
    text = "k1,k2,-*/x"
    assert str(accepted(text, max_length=13)) == "k1(-x),k2(-x)"
    error = refused(text, max_length=12)
    assert "more than 12 characters in canonical form" in str(error)
    assert error.pos == text.index("*")  # the item that copies


def test_a_canonical_form_of_exactly_max_items_names_is_accepted() -> None:
    text = "k1,k2,k3,-*/x"
    assert str(accepted(text, max_items=6)) == "k1(-x),k2(-x),k3(-x)"
    error = refused(text, max_items=5)
    assert "more than 5 names in canonical form" in str(error)
    assert error.pos == text.index("*")


@pytest.mark.parametrize("case_insensitive", [False, True])
def test_what_a_name_kept_whole_throws_away_counts_nothing(case_insensitive: bool) -> None:
    """``a(...),a`` keeps ``a`` whole, whatever the group would give: only the canonical form,
    ``a``, is held to the limits, not the entries the group would copy and the union drop."""
    text = "a(b,c,d,e,f,-*/x),A" if case_insensitive else "a(b,c,d,e,f,-*/x),a"
    options = {"case_insensitive": case_insensitive}
    assert accepted(text, max_items=9, **options) == accepted("a", **options)
    wide = "a(" + ",".join(f"k{number}" for number in range(600)) + ",-*/x),x/y,a"
    assert str(accepted(wide, **options)) == "a,x(y)"


def test_wildcard_groups_copied_into_the_keys_beside_them_count_to_exactly_max_items() -> None:
    # United, each "a(...)" gives its "*(yN)" to the keys the others name: 15 names in the text,
    # 17 in the canonical form.
    text = "a(*(y0),x0(z)),a(*(y1),x1(z)),a(*(y2),x2(z))"
    assert str(accepted(text, max_items=17)) == "a(*(y0,y1,y2),x0(z,y1,y2),x1(y0,z,y2),x2(y0,y1,z))"
    error = refused(text, max_items=16)
    assert "more than 16 names in canonical form" in str(error)
    assert error.pos == text.index("*")


def test_a_canonical_form_longer_by_its_slashes_is_measured_to_the_character() -> None:
    # No "-" or "*": "a/b/c" prints as "a(b(c))", two characters longer.
    accepted("a/b/c", max_length=7)
    assert "in canonical form" in str(refused("a/b/c", max_length=6))


def test_paths_exactly_max_depth_deep_are_accepted() -> None:
    path = ".".join(["a"] * 32)
    assert projection.Projection.from_paths([path]) == projection.parse(path.replace(".", "/"))
    with pytest.raises(ValueError, match="deeper than 32"):
        projection.Projection.from_paths([path + ".a"])
    assert projection.Projection.from_paths(["a.b"], max_depth=2).paths() == ["a.b"]
    with pytest.raises(ValueError, match="deeper than 1"):
        projection.Projection.from_paths(["a.b"], max_depth=1)


# -- the middleware ---------------------------------------------------------------------------

BODY = orjson.dumps({"k1": {"x": 1, "y": 2}, "k2": 3, "k3": 4})


class Upstream:
    """Answers with ``BODY`` and the given headers; keeps the request headers it was given."""

    def __init__(self, headers: list[tuple[bytes, bytes]], status: int = 200) -> None:
        self.headers = headers
        self.status = status
        self.seen: list[list[tuple[bytes, bytes]]] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        self.seen.append(list(scope["headers"]))
        start = {"type": "http.response.start", "status": self.status, "headers": self.headers}
        await send(start)
        await send({"type": "http.response.body", "body": BODY})


JSON = (b"content-type", b"application/json")


def fields(*expressions: str) -> str:
    return "&".join(urlencode({"responseFields": text}) for text in expressions)


@pytest.mark.parametrize("limit", [10, 4096])
def test_an_expression_of_exactly_the_middleware_s_max_length_is_accepted(limit: int) -> None:
    app = ResponseFieldsMiddleware(Upstream([JSON]), max_length=limit)
    text = "k2," + " " * (limit - 5) + "k3"
    assert len(text) == limit
    status, _, body = respond(app, fields(text))
    assert (status, orjson.loads(body)) == (200, {"k2": 3, "k3": 4})
    status, _, body = respond(app, fields(text + " "))
    assert status == 400
    assert orjson.loads(body)["pos"] == limit


def test_repeated_parameters_of_exactly_max_length_together_are_accepted() -> None:
    app = ResponseFieldsMiddleware(Upstream([JSON]), max_length=10)
    status, _, body = respond(app, fields("k2", " " * 6 + "k3"))
    assert (status, orjson.loads(body)) == (200, {"k2": 3, "k3": 4})
    status, _, body = respond(app, fields("k2", " " * 7 + "k3"))
    assert status == 400
    problem = orjson.loads(body)
    # In the expression that crosses the limit, where it does.
    assert (problem["expression"], problem["pos"]) == (" " * 7 + "k3", 8)


def test_the_middleware_s_max_length_holds_for_the_canonical_form_too() -> None:
    upstream = Upstream([JSON])
    status, _, body = respond(
        ResponseFieldsMiddleware(upstream, max_length=13), fields("k1,k2,-*/x")
    )
    assert (status, orjson.loads(body)) == (200, {"k1": {"y": 2}, "k2": 3})
    status, _, body = respond(
        ResponseFieldsMiddleware(upstream, max_length=12), fields("k1,k2,-*/x")
    )
    assert status == 400
    assert "canonical form" in orjson.loads(body)["message"]


@pytest.mark.parametrize("length", [255, 256, 257, 1000])
def test_a_rejected_expression_is_echoed_up_to_256_characters(length: int) -> None:
    text = "a" * (length - 1) + "("  # unbalanced: a syntax error at its end
    status, _, body = respond(ResponseFieldsMiddleware(Upstream([JSON])), fields(text))
    assert status == 400
    problem = orjson.loads(body)
    assert problem["expression"] == text[:256]
    assert problem["pos"] == length


def test_an_expression_too_long_is_echoed_up_to_256_characters() -> None:
    text = "k2," + "a" * 300
    status, _, body = respond(
        ResponseFieldsMiddleware(Upstream([JSON]), max_length=280), fields(text)
    )
    assert status == 400
    assert orjson.loads(body)["expression"] == text[:256]


# -- header names in any letter case ----------------------------------------------------------

SPELLINGS = [b"content-length", b"Content-Length", b"CONTENT-LENGTH", b"cOnTeNt-LeNgTh"]


def lengths(headers: list[tuple[bytes, bytes]]) -> list[bytes]:
    return [value for name, value in headers if name.lower() == b"content-length"]


@pytest.mark.parametrize("name", SPELLINGS)
@pytest.mark.parametrize("chunked", [False, True])
def test_a_length_header_in_any_case_is_replaced_never_sent_twice(
    name: bytes, chunked: bool
) -> None:
    headers = [JSON, (name, b"%d" % len(BODY)), (b"X-Kept", b"1")]
    if chunked:
        headers.append((name.replace(b"content-length", b"transfer-encoding").title(), b"chunked"))
    for query, policy in (
        (fields("k2"), None),  # the client's expression
        ("", projection.parse("-k1")),  # a policy alone
        (fields("k2"), projection.parse("-k1")),
    ):
        status, sent, body = respond(
            ResponseFieldsMiddleware(Upstream(headers), policy=policy), query
        )
        assert status == 200
        assert lengths(sent) == [b"%d" % len(body)]
        assert [pair for pair in sent if pair[0].lower() != b"content-length"] == [
            JSON,
            (b"X-Kept", b"1"),
        ]


@pytest.mark.parametrize("name", SPELLINGS)
@pytest.mark.parametrize(("method", "status"), [("HEAD", 200), ("GET", 204), ("GET", 304)])
def test_a_response_without_content_loses_its_length_in_any_case(
    name: bytes, method: str, status: int
) -> None:
    headers = [JSON, (name, b"%d" % len(BODY)), (b"Transfer-Encoding".swapcase(), b"chunked")]
    # With a policy: it covers every status (the client's expression only 2xx ones).
    middleware = ResponseFieldsMiddleware(Upstream(headers, status), policy=projection.parse("-k1"))
    sent_status, sent, body = respond(middleware, fields("k2"), method=method)
    assert (sent_status, body) == (status, b"")
    assert sent == [JSON]


@pytest.mark.parametrize(
    "name",
    [b"Accept-Encoding", b"ACCEPT-ENCODING", b"Range", b"RANGE", b"If-Range", b"IF-RANGE"],
)
def test_request_headers_that_ask_for_part_of_the_body_are_removed_in_any_case(
    name: bytes,
) -> None:
    upstream = Upstream([JSON])
    headers = [(b"accept", b"application/json"), (name, b"gzip"), (b"X-Trace", b"1")]
    status, _, body = respond(ResponseFieldsMiddleware(upstream), fields("k2"), headers=headers)
    assert (status, orjson.loads(body)) == (200, {"k2": 3})
    assert upstream.seen == [[(b"accept", b"application/json"), (b"X-Trace", b"1")]]
