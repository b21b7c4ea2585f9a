"""The mock auth-ticket server as users run it: ``python -m projection mock``, over real sockets."""

from __future__ import annotations

import datetime
import errno
import http.client
import itertools
import sys
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import orjson
import pytest

import projection
from projection import ExpressionError
from projection._cli import main
from projection.kibo import CustomerAccount, CustomerAuthTicket
from projection.kibo._sample import anonymous_authtickets
from projection.mock import running

TOKEN = "mock-token"
PATH = "/commerce/customer/authtickets/anonymousshopper"
AUTHORIZED = {"Authorization": f"Bearer {TOKEN}"}
KIBO_ERROR_KEYS = ["message", "errorCode", "applicationName", "additionalErrorData", "items"]


@pytest.fixture(scope="module")
def port() -> Iterator[int]:
    with running(token=TOKEN, seed=7) as server:
        yield server.port


def test_a_port_in_use_is_refused_at_once() -> None:
    with (
        running() as taken,
        # The system's words for the fault vary; its number does not.
        pytest.raises(OSError, match=rf"^\[Errno {errno.EADDRINUSE}\]") as raised,
        running(port=taken.port),
    ):
        pass
    assert raised.value.errno == errno.EADDRINUSE


def test_a_server_that_exits_says_what_it_printed() -> None:
    with (
        pytest.raises(RuntimeError, match=r"(?s)exited with status 2:.*--seed"),
        running(seed="many"),  # type: ignore[arg-type]
    ):
        pass


class Reply:
    def __init__(self, response: http.client.HTTPResponse) -> None:
        self.status = response.status
        self.headers = {name.lower(): value for name, value in response.getheaders()}
        self.body = response.read()

    def json(self) -> Any:
        assert self.headers["content-type"].startswith("application/json")
        return orjson.loads(self.body)


def call(
    port: int,
    query: str = "",
    *,
    method: str = "GET",
    path: str = PATH,
    headers: dict[str, str] | None = None,
) -> Reply:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        target = f"{path}?{query}" if query else path
        connection.request(method, target, headers=AUTHORIZED if headers is None else headers)
        return Reply(connection.getresponse())
    finally:
        connection.close()


def fields(expression: str, name: str = "responseFields") -> str:
    return urlencode({name: expression})


def same_shape(value: Any, reference: Any) -> bool:
    """Whether two tickets have the same keys, in the same order, at every level.

    Tickets are fresh on every call: their values differ (tokens, ids, times), and so does the
    length of one array (``customerAccount.attributes``, 0 to 2 elements, each with the same keys).
    So arrays are compared element against element wherever both have elements, and leaves only
    for being leaves.
    """
    if isinstance(value, dict):
        return (
            isinstance(reference, dict)
            and list(value) == list(reference)
            and all(same_shape(item, reference[key]) for key, item in value.items())
        )
    if isinstance(value, list):
        return isinstance(reference, list) and all(
            same_shape(item, other) for item in value for other in reference
        )
    return not isinstance(reference, dict | list)


def full_ticket(port: int) -> Any:
    reply = call(port)
    assert reply.status == 200
    return reply.json()


def test_a_ticket_is_a_fresh_anonymous_shopper_s(port: int) -> None:
    first, second = full_ticket(port), call(port, path="/api" + PATH).json()
    now = datetime.datetime.now(datetime.UTC)
    for ticket in (first, second):
        assert ticket["customerAccount"]["isAnonymous"] is True
        assert ticket["customerAccount"]["contacts"] == []
        assert ticket["customerAccount"]["userId"] == ticket["userId"]
        for name in ("accessTokenExpiration", "refreshTokenExpiration"):
            assert datetime.datetime.fromisoformat(ticket[name]) > now
    for name in ("accessToken", "refreshToken", "jwtAccessToken", "userId"):
        assert first[name] != second[name]


EXPRESSIONS = [
    "customerAccount(contacts(address))",
    "customerAccount(contacts(address)),accessToken",
    "customerAccount/isAnonymous,userId",
    "accessToken,accessToken,userId",
    "  userId ,\taccessToken ",
    "-jwtAccessToken,-customerAccount",
    "-customerAccount/attributes,-customerAccount/auditInfo/updateBy",
    "customerAccount(*(createDate)),refreshTokenExpiration",
    "customerAccount(commerceSummary(totalOrderAmount(amount)),attributes(values),id)",
    "customerAccount(`isAnonymous`,contacts(-*))",
    "*",
    "",
]


@pytest.mark.parametrize("expression", EXPRESSIONS)
def test_a_projected_ticket_has_exactly_the_paths_the_expression_keeps(
    port: int, expression: str
) -> None:
    reference = full_ticket(port)
    reply = call(port, fields(expression))
    assert reply.status == 200
    assert reply.headers["content-type"] == "application/json; charset=utf-8"
    assert int(reply.headers["content-length"]) == len(reply.body)
    body = reply.json()
    parsed = projection.parse(expression)
    # The body holds nothing the expression drops ...
    assert parsed.apply(body) == body
    # ... and everything it keeps of a ticket, key for key and in order: compared with another
    # ticket of the same endpoint, since values change on every call.
    assert same_shape(body, parsed.apply(reference))


def test_the_parameter_name_is_matched_ignoring_case(port: int) -> None:
    reply = call(port, fields("userId", name="RESPONSEFIELDS"))
    assert list(reply.json()) == ["userId"]
    reply = call(port, "responsefields=customerAccount%28isAnonymous%29")
    assert reply.json() == {"customerAccount": {"isAnonymous": True}}


def test_a_malformed_expression_answers_400_with_the_fault(port: int) -> None:
    expression = "customerAccount(contacts"
    reply = call(port, fields(expression))
    with pytest.raises(ExpressionError) as raised:
        projection.parse(expression)
    assert reply.status == 400
    assert reply.headers["content-type"] == "application/json"
    assert int(reply.headers["content-length"]) == len(reply.body)
    assert reply.json() == {
        "message": raised.value.message,
        "pos": len(expression),
        "column": len(expression) + 1,
        "expression": expression,
    }


@pytest.mark.parametrize("authorization", [None, "Bearer", "Basic bW9jaw==", "Bearer wrong"])
def test_without_the_token_the_answer_is_401(port: int, authorization: str | None) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    reply = call(port, fields("userId"), headers=headers)
    assert reply.status == 401
    assert reply.headers["www-authenticate"] == "Bearer"
    error = reply.json()
    assert list(error) == KIBO_ERROR_KEYS
    assert (error["errorCode"], error["applicationName"]) == ("UNAUTHORIZED", "Customer")


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE"])
def test_other_methods_answer_405_with_allow(port: int, method: str) -> None:
    reply = call(port, method=method)
    assert reply.status == 405
    assert reply.headers["allow"] == "GET, HEAD"
    assert reply.json()["errorCode"] == "METHOD_NOT_ALLOWED"


def test_head_answers_like_get_without_a_body(port: int) -> None:
    reply = call(port, method="HEAD")
    assert (reply.status, reply.body) == (200, b"")
    assert int(reply.headers["content-length"]) > 2000  # a whole ticket's length
    # A projected GET would be shorter: the length of the whole ticket must not be claimed.
    assert "content-length" not in call(port, fields("userId"), method="HEAD").headers


@pytest.mark.parametrize(
    "path", ["/", "/commerce/customer/authtickets", PATH + "/extra", "/api/api" + PATH]
)
def test_unknown_paths_answer_404_before_reading_the_expression(port: int, path: str) -> None:
    reply = call(port, fields("a("), path=path)
    assert reply.status == 404
    error = reply.json()
    assert list(error) == KIBO_ERROR_KEYS
    assert error["additionalErrorData"] == [{"name": "path", "value": path}]


def test_tickets_are_fixed_by_the_seed_and_the_clock() -> None:
    issued = datetime.datetime(2030, 5, 17, 9, 30, tzinfo=datetime.UTC)

    def first_three(seed: int) -> list[CustomerAuthTicket]:
        return list(itertools.islice(anonymous_authtickets(seed=seed, clock=lambda: issued), 3))

    tickets = first_three(1)
    assert tickets == first_three(1)
    assert tickets != first_three(2)
    assert len({ticket.accessToken for ticket in tickets}) == 3
    for ticket in tickets:
        assert isinstance(ticket.customerAccount, CustomerAccount)
        assert ticket.customerAccount.isAnonymous is True
        assert ticket.accessTokenExpiration == issued + datetime.timedelta(hours=1)
        assert ticket.refreshTokenExpiration == issued + datetime.timedelta(days=30)


def test_without_uvicorn_the_command_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "uvicorn", None)  # makes ``import uvicorn`` fail
    assert main(["mock", "--port", "1"]) == 2
    assert "pip install 'kibo-projection[server]'" in capsys.readouterr().err
