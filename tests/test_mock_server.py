"""The mock server as users run it: ``python -m projection mock``, over real sockets: auth tickets,
every GET operation of an OpenAPI document, and the application token and tenant lookup of SDKs.

Internals reached: the command's entry point ``projection._cli.main``, to run it in this process.
"""

from __future__ import annotations

import datetime
import errno
import http.client
import itertools
import math
import re
import shutil
import ssl
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import msgspec
import orjson
import pytest

import projection
from projection import ExpressionError
from projection._cli import main
from projection.kibo import CustomerAccount, CustomerAuthTicket
from projection.kibo._sample import anonymous_authtickets
from projection.mock import running
from projection.openapi import OpenAPI, Operation

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
    body: bytes | None = None,
    host: str = "127.0.0.1",
    context: ssl.SSLContext | None = None,
) -> Reply:
    """One request on a connection of its own; HTTPS when given a ``context``."""
    connection = (
        http.client.HTTPConnection(host, port, timeout=10)
        if context is None
        else http.client.HTTPSConnection(host, port, timeout=10, context=context)
    )
    try:
        target = f"{path}?{query}" if query else path
        sent = AUTHORIZED if headers is None else headers
        connection.request(method, target, body=body, headers=sent)
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
    assert reply.headers["content-type"] == "application/json; charset=utf-8"
    assert int(reply.headers["content-length"]) == len(reply.body)
    # Kibo-style, as the server's other errors are.
    assert reply.json() == {
        "message": raised.value.message,
        "errorCode": "MISSING_OR_INVALID_PARAMETER",
        "applicationName": "Customer",
        "additionalErrorData": [
            {"name": "name", "value": "responseFields"},
            {"name": "expression", "value": expression},
            {"name": "pos", "value": str(len(expression))},
            {"name": "column", "value": str(len(expression) + 1)},
        ],
        "items": [],
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


# -- every resource of an OpenAPI document ------------------------------------------------------

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "kibo_openapi.json"
SPEC = OpenAPI.load(FIXTURE)
CLIENT_ID, SHARED_SECRET = "KIBO_APP.1.0.0.Release", "s3cr3t-shared"
OAUTH = "/api/platform/applications/authtickets/oauth"
# The document's GET operations that take responseFields (all of them but the tenant lookup's).
GETS = [op for op in SPEC.operations() if op.method == "GET"]


def concrete(template: str) -> str:
    """A request path for ``template``: integers for integer parameters, words for the others."""
    return re.sub(r"\{(\w+)\}", lambda m: "12" if m.group(1).endswith("Id") else "x-1", template)


@pytest.fixture(scope="module")
def kibo() -> Iterator[int]:
    with running(
        openapi=FIXTURE, seed=3, client_id=CLIENT_ID, shared_secret=SHARED_SECRET
    ) as server:
        yield server.port


def document(port: int, path: str, query: str = "", token: str = TOKEN) -> Reply:
    return call(port, query, path=path, headers={"Authorization": f"Bearer {token}"})


@pytest.mark.parametrize("operation", GETS, ids=lambda op: op.path)
def test_every_get_operation_answers_a_document_that_decodes_into_its_type(
    kibo: int, operation: Operation
) -> None:
    path = "/api" + concrete(operation.path)
    reply = document(kibo, path)
    assert reply.status == 200, reply.body
    assert int(reply.headers["content-length"]) == len(reply.body)
    # Strict: every field of the right type, datetimes in RFC 3339, nothing the type lacks.
    strict = msgspec.json.Decoder(SPEC.response_schema("GET", operation.path))
    decoded = strict.decode(reply.body)
    assert decoded is not None
    if "authtickets" not in path:  # a ticket is fresh each time
        # The same request gives the same document: the seed, the path and the page fix it.
        assert document(kibo, path).body == reply.body


def test_documents_depend_on_the_seed_and_the_path(kibo: int) -> None:
    first = document(kibo, "/api/commerce/orders/A-1").body
    assert document(kibo, "/commerce/ORDERS/A-1/").body == first  # as Kibo routes it
    assert document(kibo, "/api/commerce/orders/A-2").body != first
    with running(openapi=FIXTURE, seed=4) as other:
        assert document(other.port, "/api/commerce/orders/A-1").body != first


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/api/commerce/orders/ORD-77", {"id": "ORD-77"}),
        ("/api/commerce/orders/ORD-77/items/line-3", {"id": "line-3"}),
        ("/api/commerce/customer/accounts/55", {"id": 55}),
        ("/api/commerce/catalog/storefront/categories/42", {"categoryId": 42}),
        ("/api/commerce/carts/c-1/items/ci-9", {"id": "ci-9"}),
    ],
)
def test_fields_named_like_a_path_parameter_echo_it(
    kibo: int, path: str, expected: dict[str, Any]
) -> None:
    body = document(kibo, path).json()
    assert {name: body[name] for name in expected} == expected


def test_the_objects_inside_name_the_parameter_s_resource(kibo: int) -> None:
    contacts = document(kibo, "/api/commerce/customer/accounts/55/contacts").json()
    assert 1 <= len(contacts) <= 4
    assert {contact["accountId"] for contact in contacts} == {55}
    assert len({contact["id"] for contact in contacts}) == len(contacts)
    account = document(kibo, "/api/commerce/customer/accounts/56").json()
    assert {contact["accountId"] for contact in account["contacts"]} <= {56}


@pytest.mark.parametrize(
    ("path", "expression"),
    [
        ("/api/commerce/orders/A-1", "id,total,items(product(name,price)),currencyCode"),
        ("/api/commerce/orders/A-1", "ID,Items(Product(NAME)),-items/product/name"),
        ("/api/commerce/orders/A-1", "-items,-fulfillmentInfo/fulfillmentContact/address"),
        ("/api/commerce/customer/accounts/9/contacts", "EMAIL,address(countryCode)"),
        ("/api/commerce/orders", "totalCount,items(id,status)"),
        ("/api/commerce/customer/authtickets/anonymousshopper", "customeraccount(ISANONYMOUS)"),
    ],
)
def test_documents_honour_response_fields_with_the_schema_s_names(
    kibo: int, path: str, expression: str
) -> None:
    operation = SPEC.match("GET", path)
    assert operation is not None
    assert operation.schema is not None
    whole = document(kibo, path)
    reply = document(kibo, path, fields(expression))
    assert reply.status == 200
    parsed = projection.parse(expression, schema=SPEC.schema(operation.schema))
    if "authtickets" in path:  # a fresh ticket each time: compared by shape
        assert reply.json() == {"customerAccount": {"isAnonymous": True}}
    else:
        assert reply.json() == parsed.apply(whole.json())
        assert reply.body == parsed.project(whole.body)


@pytest.mark.parametrize(("start", "size"), [(0, 20), (0, 2), (2, 2), (4, 3), (50, 5), (0, 0)])
def test_collections_page_their_few_items_with_counts_that_agree(
    kibo: int, start: int, size: int
) -> None:
    everything = document(kibo, "/api/commerce/orders").json()
    total = everything["totalCount"]
    assert 3 <= total <= 8
    assert len(everything["items"]) == total
    page = document(kibo, "/api/commerce/orders", f"startIndex={start}&pageSize={size}").json()
    expected_size = size or 20  # 0 is no page size: the default
    assert page["totalCount"] == total
    assert (page["startIndex"], page["pageSize"]) == (start, expected_size)
    assert page["pageCount"] == math.ceil(total / expected_size)
    assert page["items"] == everything["items"][start : start + expected_size]


def test_recursive_schemas_are_bounded_in_depth(kibo: int) -> None:
    def depth(category: Any) -> int:
        if not isinstance(category, dict):
            return 0
        below = [category.get("parentCategory"), *(category.get("childrenCategories") or [])]
        return 1 + max(map(depth, below))

    for path in (
        "/api/commerce/catalog/storefront/categories/7",
        "/commerce/catalog/storefront/categories/tree",
    ):
        body = document(kibo, path).json()
        for category in body if isinstance(body, list) else [body]:
            assert 1 <= depth(category) <= 3


EMAIL = re.compile(r"^[^@\s]+@[a-z0-9.-]+\.[a-z]{2,}$")
COUNTRIES = {"US", "CA", "GB", "DE", "FR", "ES", "JP", "NO"}


def leaves(value: Any, name: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from leaves(item, key)
    elif isinstance(value, list):
        for item in value:
            yield from leaves(item, name)
    else:
        yield name, value


def test_values_are_what_their_names_say(kibo: int) -> None:
    seen: dict[str, list[Any]] = {}
    # The generated documents: deterministic, unlike tickets, which are issued now.
    for operation in (op for op in GETS if op.schema != "CustomerAuthTicket"):
        for name, value in leaves(document(kibo, "/api" + concrete(operation.path)).json()):
            if value is not None:
                seen.setdefault(name, []).append(value)
    assert seen["email"]
    assert all(EMAIL.match(value) for value in seen["email"])
    assert set(seen["countryCode"]) <= COUNTRIES
    assert all(re.fullmatch("[A-Z]{3}", value) for value in seen["currencyCode"])
    assert all(re.fullmatch("[a-z]{2}-[A-Z]{2}", value) for value in seen["localeCode"])
    for name in ("total", "price", "amount"):
        assert all(value >= 0 and round(value, 2) == value for value in seen[name])
    assert all(isinstance(value, str) and len(value) == 32 for value in seen["createBy"])
    # Dates are RFC 3339 date-times (decoding checked that), in the past or the near future.
    assert all(
        value[:4] in {str(year) for year in range(2019, 2028)} for value in seen["updateDate"]
    )
    assert set(seen["status"]) <= {
        "Pending", "Submitted", "Processing", "Completed", "Cancelled", "Active"
    }  # fmt: skip


def test_operations_without_a_get_answer_405_and_unknown_paths_404(kibo: int) -> None:
    deleted = call(kibo, method="DELETE", path="/api/commerce/carts/9")
    assert (deleted.status, deleted.headers["allow"]) == (405, "GET, HEAD")
    missing = document(kibo, "/api/commerce/nothing/here")
    assert missing.status == 404
    assert missing.json()["errorCode"] == "NOT_FOUND"
    head = call(kibo, method="HEAD", path="/api/commerce/orders/1")
    assert (head.status, head.body) == (200, b"")
    assert int(head.headers["content-length"]) == len(document(kibo, "/api/commerce/orders/1").body)


def test_without_a_bearer_token_documents_answer_401(kibo: int) -> None:
    reply = call(kibo, path="/api/commerce/orders/1", headers={})
    assert reply.status == 401
    assert list(reply.json()) == KIBO_ERROR_KEYS


def test_a_document_the_mock_cannot_read_is_refused_by_the_command(tmp_path: Path) -> None:
    assert main(["mock", "--openapi", str(tmp_path / "missing.json")]) == 2
    (tmp_path / "swagger.json").write_bytes(b'{"swagger": "2.0"}')
    assert main(["mock", "--openapi", str(tmp_path / "swagger.json")]) == 1


# -- as Kibo's SDKs authenticate -----------------------------------------------------------------


def token_request(port: int, secret: str = SHARED_SECRET, **more: str) -> Reply:
    body = {"client_id": CLIENT_ID, "client_secret": secret, "grant_type": "client_credentials"}
    return call(
        port,
        method="POST",
        path=OAUTH,
        body=orjson.dumps({**body, **more}),
        headers={"Content-Type": "application/json"},
    )


def sdk_flow(port: int, tenant_id: int = 23456, context: ssl.SSLContext | None = None) -> Any:
    """What an SDK does with a client id and shared secret: an application token from the auth
    host, the tenant's domain from the home host, then a projected call on that domain."""
    granted = call(
        port,
        method="POST",
        path=OAUTH,
        body=orjson.dumps(
            {
                "client_id": CLIENT_ID,
                "client_secret": SHARED_SECRET,
                "grant_type": "client_credentials",
            }
        ),
        headers={"Content-Type": "application/json"},
        context=context,
    )
    assert granted.status == 200
    ticket = granted.json()
    assert list(ticket) == [
        "access_token", "token_type", "expires_in", "refresh_token", "refresh_token_expires_in"
    ]  # fmt: skip
    assert ticket["token_type"] == "Bearer"
    assert ticket["expires_in"] > 0
    assert ticket["refresh_token_expires_in"] > ticket["expires_in"]
    bearer = {"Authorization": f"Bearer {ticket['access_token']}"}
    tenant = call(port, path=f"/api/platform/tenants/{tenant_id}", headers=bearer, context=context)
    assert tenant.status == 200
    domain = tenant.json()["domain"]
    assert domain == f"127.0.0.1:{port}"
    assert tenant.json()["id"] == tenant_id
    assert {site["domain"] for site in tenant.json()["sites"]} == {domain}
    host, _, site_port = domain.rpartition(":")
    return call(
        int(site_port),
        fields("id,total,Items(Product(Name))"),
        path="/api/commerce/orders/ORD-1",
        headers=bearer,
        host=host,
        context=context,
    )


def test_an_sdk_gets_a_token_finds_its_tenant_s_domain_and_calls_it(kibo: int) -> None:
    reply = sdk_flow(kibo)
    assert reply.status == 200
    order = reply.json()
    assert list(order) == ["id", "total", "items"]
    assert order["id"] == "ORD-1"
    typed = projection.parse("id,total,items(product(name))", schema=SPEC.schema("Order"))
    decoded: Any = msgspec.json.decode(reply.body, type=typed.typed())
    assert decoded.id == "ORD-1"


def test_the_tenant_is_fixed_by_the_seed_and_id_and_its_domain_by_the_host(kibo: int) -> None:
    path = "/api/platform/tenants/777"
    first = document(kibo, path).json()
    assert document(kibo, path).json() == first
    assert document(kibo, "/api/platform/tenants/778").json()["id"] == 778
    there = call(kibo, path=path, headers={**AUTHORIZED, "Host": "shop.example.test:8443"})
    assert there.json()["domain"] == "shop.example.test:8443"
    assert {site["domain"] for site in there.json()["sites"]} == {"shop.example.test:8443"}
    assert document(kibo, "/api/platform/tenants/not-a-number").status == 404
    assert call(kibo, path=path, headers={}).status == 401


def test_the_tenant_lookup_honours_response_fields_and_works_without_a_document(port: int) -> None:
    reply = call(port, fields("domain,sites(id,domain)"), path="/platform/tenants/5")
    assert reply.status == 200
    body = reply.json()
    assert list(body) == ["domain", "sites"]
    assert all(list(site) == ["id", "domain"] for site in body["sites"])


def test_a_refresh_token_gets_a_new_access_token(kibo: int) -> None:
    first = token_request(kibo).json()
    again = token_request(kibo, refresh_token=first["refresh_token"])
    assert again.status == 200
    assert again.json()["access_token"] != first["access_token"]
    assert (
        document(kibo, "/api/commerce/carts/current", token=again.json()["access_token"]).status
        == 200
    )
    # Only a refresh token of this server: not an access token, not a made-up one.
    for wrong in (first["access_token"], "x" + first["refresh_token"]):
        refused = token_request(kibo, refresh_token=wrong)
        assert refused.status == 401
        assert list(refused.json()) == KIBO_ERROR_KEYS


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"client_id": CLIENT_ID, "client_secret": "wrong"}, 401),
        ({"client_id": "OTHER_APP.1.0.0.Release", "client_secret": SHARED_SECRET}, 401),
        ({"client_id": CLIENT_ID}, 400),
        ({"client_secret": SHARED_SECRET}, 400),
        ([CLIENT_ID, SHARED_SECRET], 400),
    ],
)
def test_wrong_credentials_get_no_token(kibo: int, body: Any, status: int) -> None:
    reply = call(kibo, method="POST", path=OAUTH, body=orjson.dumps(body), headers={})
    assert reply.status == status
    error = reply.json()
    assert list(error) == KIBO_ERROR_KEYS
    assert error["errorCode"] == (
        "UNAUTHORIZED" if status == 401 else "MISSING_OR_INVALID_PARAMETER"
    )
    assert "access_token" not in error


def test_the_token_route_takes_only_post(kibo: int) -> None:
    reply = call(kibo, path=OAUTH)
    assert (reply.status, reply.headers["allow"]) == (405, "POST")


def test_a_form_body_gets_a_token_too(kibo: int) -> None:
    form = urlencode({"client_id": CLIENT_ID, "client_secret": SHARED_SECRET})
    reply = call(
        kibo,
        method="POST",
        path=OAUTH,
        body=form.encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert reply.status == 200


def test_issued_tokens_open_a_mock_that_takes_one_token_and_others_do_not() -> None:
    with running(token=TOKEN) as server:  # no client id: any credentials get a token
        granted = token_request(server.port, secret="anything").json()
        for token, status in ((granted["access_token"], 200), (TOKEN, 200), ("made-up", 401)):
            reply = call(server.port, path=PATH, headers={"Authorization": f"Bearer {token}"})
            assert reply.status == status
        # A refresh token is not an access token.
        refresh = {"Authorization": f"Bearer {granted['refresh_token']}"}
        assert call(server.port, path=PATH, headers=refresh).status == 401


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1, made with the openssl command."""
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command is not installed")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "2",
            "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


def test_the_sdk_flow_works_over_https_as_sdks_that_build_https_urls_need(
    certificate: tuple[Path, Path],
) -> None:
    cert, key = certificate
    context = ssl.create_default_context(cafile=str(cert))
    with running(
        openapi=FIXTURE,
        client_id=CLIENT_ID,
        shared_secret=SHARED_SECRET,
        ssl_certfile=cert,
        ssl_keyfile=key,
    ) as server:
        assert server.url == f"https://127.0.0.1:{server.port}"
        reply = sdk_flow(server.port, context=context)
    assert reply.status == 200
    assert reply.json()["id"] == "ORD-1"
