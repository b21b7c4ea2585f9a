"""The Kibo models match the documented CustomerAuthTicket schema and round-trip unchanged; the
sample generator is deterministic, varied, about 4 KB a ticket, and its byte formats are valid."""

import base64
import datetime
import functools
import itertools
import re
import statistics
import typing
from typing import Any

import msgspec
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import projection.kibo
from projection.kibo import (
    Address,
    CustomerAccount,
    CustomerAuthTicket,
    Phone,
    _sample,
    iter_sample_lines,
    sample_authtickets,
    sample_bytes,
)

# The documented schema, field by field in schema order.
SCHEMA: dict[str, tuple[str, ...]] = {
    "CustomerAuthTicket": (
        "accessToken",
        "accessTokenExpiration",
        "customerAccount",
        "jwtAccessToken",
        "refreshToken",
        "refreshTokenExpiration",
        "requires2FA",
        "userId",
    ),
    "CustomerAccount": (
        "accountType",
        "attributes",
        "auditInfo",
        "commerceSummary",
        "companyOrOrganization",
        "contacts",
        "customerSet",
        "customerSinceDate",
        "externalId",
        "id",
        "migrationRequired",
        "notes",
        "segments",
        "taxExempt",
        "taxId",
        "acceptsMarketing",
        "emailAddress",
        "firstName",
        "hasExternalPassword",
        "isActive",
        "isAnonymous",
        "isLocked",
        "last2FaDate",
        "lastName",
        "localeCode",
        "userId",
        "userName",
    ),
    "CustomerAttribute": ("attributeDefinitionId", "auditInfo", "fullyQualifiedName", "values"),
    "AuditInfo": ("createBy", "createDate", "updateBy", "updateDate"),
    "CommerceSummary": (
        "lastOrderDate",
        "orderCount",
        "totalOrderAmount",
        "visitsCount",
        "wishlistCount",
    ),
    "CurrencyAmount": ("amount", "currencyCode"),
    "CustomerContact": (
        "accountId",
        "address",
        "auditInfo",
        "companyOrOrganization",
        "email",
        "faxNumber",
        "firstName",
        "id",
        "label",
        "lastNameOrSurname",
        "middleNameOrInitial",
        "phoneNumbers",
        "types",
    ),
    "Address": (
        "address1",
        "address2",
        "address3",
        "address4",
        "addressType",
        "cityOrTown",
        "countryCode",
        "isValidated",
        "postalOrZipCode",
        "stateOrProvince",
    ),
    "Phone": ("home", "mobile", "work"),
    "ContactType": ("isPrimary", "name"),
    "CustomerNote": ("auditInfo", "content", "id"),
    "CustomerSegment": ("auditInfo", "code", "description", "id", "name"),
}

DATE_TIMES: dict[str, set[str]] = {
    "CustomerAuthTicket": {"accessTokenExpiration", "refreshTokenExpiration"},
    "CustomerAccount": {"customerSinceDate", "last2FaDate"},
    "AuditInfo": {"createDate", "updateDate"},
    "CommerceSummary": {"lastOrderDate"},
}

NULLABLE: dict[str, set[str]] = {
    "CustomerAccount": {"companyOrOrganization", "externalId", "taxId", "last2FaDate"},
    "CommerceSummary": {"lastOrderDate"},
    "CustomerContact": {"companyOrOrganization", "faxNumber", "label", "middleNameOrInitial"},
    "Address": {"address2", "address3", "address4"},
}

ENCODER = msgspec.json.Encoder()
TICKET_DECODER = msgspec.json.Decoder(CustomerAuthTicket)
TICKETS_DECODER = msgspec.json.Decoder(list[CustomerAuthTicket])


@functools.cache
def ten_thousand() -> bytes:
    return sample_bytes(10_000, seed=0)


@functools.cache
def thousand() -> list[CustomerAuthTicket]:
    return sample_authtickets(1_000, seed=0)


def account(ticket: CustomerAuthTicket) -> CustomerAccount:
    assert isinstance(ticket.customerAccount, CustomerAccount)
    return ticket.customerAccount


def model(name: str) -> type[msgspec.Struct]:
    cls = getattr(projection.kibo, name)
    assert isinstance(cls, type)
    assert issubclass(cls, msgspec.Struct)
    return cls


def test_exports() -> None:
    exported = projection.kibo.__all__
    assert list(exported) == sorted(exported)
    assert set(exported) == {
        *SCHEMA,
        "anonymous_authtickets",
        "iter_sample_lines",
        "sample_authtickets",
        "sample_bytes",
    }


@pytest.mark.parametrize("name", sorted(SCHEMA))
def test_model_matches_documented_schema(name: str) -> None:
    cls = model(name)
    fields = msgspec.structs.fields(cls)
    assert tuple(f.name for f in fields) == SCHEMA[name]
    assert cls.__struct_config__.frozen
    for f in fields:
        assert f.encode_name == f.name
        assert f.default is msgspec.UNSET
        members = typing.get_args(f.type)
        assert msgspec.UnsetType in members
        assert (datetime.datetime in members) == (f.name in DATE_TIMES.get(name, set()))
        if f.name in NULLABLE.get(name, set()):
            assert type(None) in members


@pytest.mark.parametrize("name", sorted(SCHEMA))
def test_the_sample_table_draws_every_field_of_every_model(name: str) -> None:
    # A field left out would take a value of the same name from an enclosing object, or fail.
    drawn = _sample._FIELDS[model(name)]
    assert set(SCHEMA[name]) <= drawn.keys()


def test_ten_thousand_tickets_round_trip_unchanged() -> None:
    data = ten_thousand()
    typed = TICKETS_DECODER.decode(data)
    assert len(typed) == 10_000
    assert ENCODER.encode(typed) == data

    plain = orjson.loads(data)
    assert orjson.loads(ENCODER.encode(typed)) == plain
    # The Python-value path agrees too: JSON-like values convert to the same typed tickets.
    assert msgspec.convert(plain, list[CustomerAuthTicket]) == typed


def test_partial_document_invents_no_keys() -> None:
    data = b'{"customerAccount":{"firstName":"A"}}'
    ticket = TICKET_DECODER.decode(data)
    assert ticket == CustomerAuthTicket(customerAccount=CustomerAccount(firstName="A"))
    assert ENCODER.encode(ticket) == data
    assert ENCODER.encode(CustomerAuthTicket()) == b"{}"


@functools.cache
def pruning_sources() -> list[Any]:
    return list(orjson.loads(sample_bytes(20, seed=7)))


def prune(draw: st.DrawFn, value: Any) -> Any:
    if isinstance(value, dict):
        return {k: prune(draw, v) for k, v in value.items() if draw(st.booleans())}
    if isinstance(value, list):
        return [prune(draw, v) for v in value]
    return value


@st.composite
def partial_tickets(draw: st.DrawFn) -> bytes:
    source = draw(st.sampled_from(pruning_sources()))
    return ENCODER.encode(prune(draw, source))


@settings(max_examples=60, deadline=None)
@given(partial_tickets())
def test_any_partial_ticket_round_trips_unchanged(data: bytes) -> None:
    assert ENCODER.encode(TICKET_DECODER.decode(data)) == data


@settings(max_examples=20, deadline=None)
@given(st.integers(min_value=0, max_value=2**64))
def test_every_seed_is_deterministic_and_round_trips(seed: int) -> None:
    data = sample_bytes(3, seed=seed)
    assert sample_bytes(3, seed=seed) == data
    assert ENCODER.encode(TICKETS_DECODER.decode(data)) == data


def test_determinism() -> None:
    assert sample_bytes(50, seed=1) == sample_bytes(50, seed=1)
    assert sample_bytes(50, seed=1) != sample_bytes(50, seed=2)
    assert sample_authtickets(5, seed=3) == sample_authtickets(40, seed=3)[:5]


def test_variety() -> None:
    tickets = thousand()
    accounts = [account(t) for t in tickets]
    contact_counts = {len(a.contacts) for a in accounts if isinstance(a.contacts, tuple)}
    assert {0, 1, 2, 3, 4} <= contact_counts
    assert 0.18 < sum(a.isAnonymous is True for a in accounts) / len(accounts) < 0.32
    # Most tickets show what ``customerAccount(contacts(address))`` selects; some have nothing.
    assert 0.2 < sum(a.contacts == () for a in accounts) / len(accounts) < 0.4
    assert any(a.emailAddress is None for a in accounts)
    assert any(a.last2FaDate is None for a in accounts)
    assert any(isinstance(a.last2FaDate, datetime.datetime) for a in accounts)

    contacts = [c for a in accounts if isinstance(a.contacts, tuple) for c in a.contacts]
    assert all(isinstance(c.address, Address) for c in contacts)
    assert any(c.middleNameOrInitial is None for c in contacts)
    assert any(isinstance(c.middleNameOrInitial, str) for c in contacts)
    phones = [c.phoneNumbers for c in contacts]
    assert any(p is None for p in phones)
    assert any(p is msgspec.UNSET for p in phones)
    numbers = [n for p in phones if isinstance(p, Phone) for n in (p.home, p.mobile, p.work)]
    assert {str, type(None), msgspec.UnsetType} <= {type(n) for n in numbers}

    value_types = {
        type(v)
        for a in accounts
        if isinstance(a.attributes, tuple)
        for attribute in a.attributes
        if isinstance(attribute.values, tuple)
        for v in attribute.values
    }
    assert {str, int, bool, float} <= value_types
    assert any(isinstance(a.notes, tuple) and len(a.notes) == 3 for a in accounts)
    assert any(isinstance(a.segments, tuple) and len(a.segments) == 3 for a in accounts)

    text = ENCODER.encode(tickets).decode("utf-8")
    for letter in "éüøñ":
        assert letter in text
    assert re.search(r"[\u4e00-\u9fff]", text)


def test_tokens_and_dates_look_real() -> None:
    for ticket in thousand()[:200]:
        assert isinstance(ticket.accessToken, str)
        assert len(ticket.accessToken) >= 200
        base64.b64decode(ticket.accessToken, validate=True)
        assert isinstance(ticket.refreshToken, str)
        assert re.fullmatch(r"[0-9a-f]{32}", ticket.refreshToken)
        assert isinstance(ticket.jwtAccessToken, str)
        assert len(ticket.jwtAccessToken) > 500
        header, claims, _ = ticket.jwtAccessToken.split(".")
        assert orjson.loads(base64.urlsafe_b64decode(header + "=="))["typ"] == "JWT"
        assert orjson.loads(base64.urlsafe_b64decode(claims + "=="))["exp"] > 0
        assert isinstance(ticket.accessTokenExpiration, datetime.datetime)
        assert ticket.accessTokenExpiration.tzinfo == datetime.UTC
        assert isinstance(ticket.refreshTokenExpiration, datetime.datetime)
        assert ticket.accessTokenExpiration < ticket.refreshTokenExpiration
        since = account(ticket).customerSinceDate
        assert isinstance(since, datetime.datetime)
        assert datetime.datetime(2015, 1, 1, tzinfo=datetime.UTC) <= since
        assert since < ticket.accessTokenExpiration


def test_average_size_is_about_four_kilobytes() -> None:
    sizes = [len(ENCODER.encode(t)) for t in thousand()]
    assert 3_000 <= statistics.mean(sizes) <= 6_000


@pytest.mark.parametrize("n", [0, 1, 7])
def test_sample_bytes_formats(n: int) -> None:
    tickets = sample_authtickets(n, seed=5)
    array = sample_bytes(n, seed=5)
    assert array == ENCODER.encode(tickets)
    assert len(orjson.loads(array)) == n

    lines = sample_bytes(n, seed=5, format="ndjson")
    assert lines.count(b"\n") == n
    assert lines.endswith(b"\n") or n == 0
    split = lines.splitlines()
    assert [orjson.loads(line) for line in split] == orjson.loads(array)
    assert [TICKET_DECODER.decode(line) for line in split] == tickets


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="format"):
        sample_bytes(1, format="xml")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="n must be"):
        sample_authtickets(-1)
    with pytest.raises(ValueError, match="n must be"):
        iter_sample_lines(-1)


def test_iter_sample_lines() -> None:
    n = 600  # past the pool of distinct tickets, so lines built from one pool entry meet
    lines = list(iter_sample_lines(n, seed=4))
    assert len(lines) == n
    assert len(set(lines)) == n
    assert lines == list(iter_sample_lines(n, seed=4))
    assert lines != list(iter_sample_lines(n, seed=5))
    for line in lines:
        assert line.endswith(b"\n")
        assert line.count(b"\n") == 1
        ticket = TICKET_DECODER.decode(line)
        assert ENCODER.encode(ticket) + b"\n" == line
        assert ticket.userId == account(ticket).userId
        contacts = account(ticket).contacts
        assert isinstance(contacts, tuple)
        assert all(c.accountId == account(ticket).id for c in contacts)
    assert list(iter_sample_lines(0)) == []


def test_iter_sample_lines_is_lazy_and_prefix_stable() -> None:
    huge = iter_sample_lines(10**12, seed=1)
    assert list(itertools.islice(huge, 300)) == list(iter_sample_lines(300, seed=1))
    assert list(iter_sample_lines(3, seed=1)) == list(iter_sample_lines(300, seed=1))[:3]


# -- documents of any schema (the mock's, from an OpenAPI document) ------------------------------


def _spec() -> Any:
    from pathlib import Path

    from projection.openapi import OpenAPI

    return OpenAPI.load(Path(__file__).resolve().parent / "fixtures" / "kibo_openapi.json")


def test_a_document_of_every_schema_decodes_strictly_and_is_fixed_by_its_seed() -> None:
    from projection.kibo._documents import sample_document

    spec = _spec()
    for name in spec.schema_names():
        annotation = spec._type(name)
        made = [
            msgspec.json.encode(
                sample_document(annotation, seed=f"{name}:{n % 2}", fields=spec._field_schemas)
            )
            for n in range(3)
        ]
        assert made[0] == made[2]
        msgspec.json.decode(made[0], type=annotation)  # raises if any field is of the wrong type


def _self_referencing(width: int) -> Any:
    from projection.openapi import OpenAPI

    node = {"$ref": "#/components/schemas/Node"}
    properties: dict[str, Any] = {"id": {"type": "integer"}, "name": {"type": "string"}}
    properties |= {f"child{n}": node for n in range(width)}
    properties["children"] = {"type": "array", "items": node}
    document = {
        "openapi": "3.0.1",
        "paths": {},
        "components": {"schemas": {"Node": {"type": "object", "properties": properties}}},
    }
    return OpenAPI.load(document).schema("Node")


@pytest.mark.parametrize("width", [1, 8])
def test_recursive_and_wide_schemas_give_documents_of_bounded_size(width: int) -> None:
    from projection.kibo._documents import sample_document

    node = _self_referencing(width)

    def depth(value: Any) -> int:
        if isinstance(value, list):
            return max(map(depth, value), default=0)
        if isinstance(value, dict):
            return 1 + max(map(depth, value.values()), default=0)
        return 0

    for seed in range(20):
        document = sample_document(node, seed=str(seed))
        msgspec.json.decode(msgspec.json.encode(document), type=node)
        assert depth(document) <= 2  # a Node inside a Node, no deeper
        assert len(msgspec.json.encode(document)) < 100_000


def test_a_collection_s_pages_agree() -> None:
    from projection.kibo._documents import Page, sample_document

    spec = _spec()
    orders = spec.schema("OrderCollection")
    whole = sample_document(orders, seed="s", fields=spec._field_schemas)
    total = whole["totalCount"]
    for start, size in ((0, 1), (1, 2), (total - 1, 5), (total, 5)):
        page = sample_document(orders, seed="s", fields=spec._field_schemas, page=Page(start, size))
        assert page["items"] == whole["items"][start : start + size]
        assert (page["totalCount"], page["pageCount"]) == (total, -(-total // size))
