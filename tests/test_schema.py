"""Schema-aware projections: names resolved against msgspec Structs, strict checking, schema key
order, and the typed Structs derived from a projection (grammar/SEMANTICS.md, rules 8 and 10).

Internals reached: the compiled way of the fast path (``tests/internals.py``), to check it keeps
the schema's order as the generic way does; the command's entry point ``projection._cli.main``.
"""

from __future__ import annotations

import json
import pickle
import typing
from pathlib import Path
from typing import Any

import msgspec
import orjson
import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from msgspec import UNSET, UnsetType

import projection
from projection import ProjectionLimitError, ProjectionSyntaxError, UnknownFieldError
from projection._cli import main
from projection.kibo import (
    CommerceSummary,
    CustomerAccount,
    CustomerAuthTicket,
    sample_authtickets,
)

from . import internals

CASES = Path(__file__).resolve().parent / "cases"

TICKETS = sample_authtickets(24, seed=11)
ENCODED = [msgspec.json.encode(ticket) for ticket in TICKETS]
BUILTINS = [msgspec.to_builtins(ticket) for ticket in TICKETS]


def parse_ticket(text: str, **options: Any) -> projection.Projection:
    return projection.parse(text, schema=CustomerAuthTicket, **options)


def field_names(struct: type[msgspec.Struct]) -> list[str]:
    return [field.name for field in msgspec.structs.fields(struct)]


def field_type(struct: type[msgspec.Struct], name: str) -> Any:
    return next(field.type for field in msgspec.structs.fields(struct) if field.name == name)


# -- small schemas --------------------------------------------------------------------------------


class ProductContent(msgspec.Struct, kw_only=True):
    productName: str | UnsetType = UNSET  # noqa: N815
    seoFriendlyUrl: str | UnsetType | None = UNSET  # noqa: N815


class Product(msgspec.Struct, kw_only=True):
    productCode: str | UnsetType = UNSET  # noqa: N815
    content: ProductContent | UnsetType = UNSET


class ProductPage(msgspec.Struct, kw_only=True):
    items: list[Product] | UnsetType = UNSET
    totalCount: int | UnsetType = UNSET  # noqa: N815


class Cased(msgspec.Struct, kw_only=True):
    """Fields that differ only in case."""

    a: int | UnsetType = UNSET
    A: int | UnsetType = UNSET
    ab: int | UnsetType = UNSET
    AB: int | UnsetType = UNSET


class Renamed(msgspec.Struct, kw_only=True, rename="camel"):
    first_name: str | UnsetType = UNSET
    home_address: ProductContent | UnsetType = UNSET


class Tree(msgspec.Struct, kw_only=True):
    name: str | UnsetType = UNSET
    children: list[Tree] | UnsetType = UNSET


class Cat(msgspec.Struct, kw_only=True, tag=True):
    lives: int | UnsetType = UNSET


class Catalog(msgspec.Struct, kw_only=True):
    """Mappings: their keys are data, their values typed."""

    products: dict[str, Product] | UnsetType = UNSET
    labels: dict[str, str] | UnsetType | None = UNSET
    groups: dict[str, list[Product]] | UnsetType = UNSET


# -- resolution -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "resolved"),
    [
        ("customeraccount(CONTACTS)", "customerAccount(contacts)"),
        (
            "CUSTOMERACCOUNT/contacts/ADDRESS/cityortown,accesstoken",
            "accessToken,customerAccount(contacts(address(cityOrTown)))",
        ),
        (
            "-CustomerAccount/Attributes,-JWTACCESSTOKEN",
            "-customerAccount/attributes,-jwtAccessToken",
        ),
        ("customerAccount(*(AUDITINFO(CreateDate)))", "customerAccount(*(auditInfo(createDate)))"),
        ("requires2fa,REFRESHTOKENEXPIRATION", "refreshTokenExpiration,requires2FA"),
        ("customerAccount(LAST2FADATE,lastname)", "customerAccount(last2FaDate,lastName)"),
    ],
)
def test_names_resolve_to_the_schema_ignoring_case(written: str, resolved: str) -> None:
    parsed = parse_ticket(written)
    assert str(parsed) == resolved
    # The mask is exact: equal to the one written with the schema's spelling.
    assert not parsed.case_insensitive
    assert parsed == projection.parse(resolved)


def test_wildcard_groups_resolve_against_every_struct_below_the_wildcard() -> None:
    parsed = parse_ticket("customerAccount(*(AUDITINFO)),-*/CONTACTS/*/CREATEDATE")
    assert parsed == projection.parse("customerAccount(*(auditInfo)),-*/contacts/*/createDate")


def test_seo_friendly_url_style_names_resolve_like_kibo() -> None:
    parsed = projection.parse("items(productCode, content(SEOFriendlyUrl))", schema=ProductPage)
    assert str(parsed) == "items(productCode,content(seoFriendlyUrl))"
    document = {"items": [{"productCode": "P1", "content": {"seoFriendlyUrl": "p1", "x": 1}}]}
    assert parsed.apply(document) == {
        "items": [{"productCode": "P1", "content": {"seoFriendlyUrl": "p1"}}]
    }
    # Without the schema the name is exact, as written, and selects nothing.
    plain = projection.parse("items(productCode, content(SEOFriendlyUrl))")
    assert plain.apply(document) == {"items": [{"productCode": "P1", "content": {}}]}


def test_names_resolve_to_encode_names() -> None:
    assert str(projection.parse("FIRSTNAME,homeaddress", schema=Renamed)) == "firstName,homeAddress"


def test_an_exact_match_wins_over_a_match_ignoring_case() -> None:
    assert str(projection.parse("A", schema=Cased)) == "A"
    assert str(projection.parse("a", schema=Cased)) == "a"
    assert str(projection.parse("A,a", schema=Cased)) == "a,A"
    # Neither spelling matches exactly: the first in schema order is taken.
    assert str(projection.parse("Ab", schema=Cased)) == "ab"


def test_a_tagged_struct_knows_its_tag_key() -> None:
    assert str(projection.parse("LIVES,TYPE", schema=Cat, strict=True)) == "type,lives"


def test_case_insensitive_with_a_schema_folds_the_resolved_names() -> None:
    parsed = parse_ticket("CUSTOMERACCOUNT(FIRSTNAME,ID)", case_insensitive=True)
    assert parsed.case_insensitive
    assert str(parsed) == "customeraccount(id,firstname)"
    typed = parsed.typed()
    assert field_names(field_type(typed, "customerAccount").__args__[0]) == ["id", "firstName"]


def test_resolution_stays_within_the_depth_limit() -> None:
    text = "/".join(["CHILDREN"] * 100 + ["Name"])
    parsed = projection.parse(text, schema=Tree, strict=True, max_depth=128)
    assert str(parsed) == "children(" * 100 + "name" + ")" * 100
    assert parsed.typed() is projection.parse(str(parsed), max_depth=128).typed(Tree)


# -- strict mode ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message", "path", "suggestion"),
    [
        (
            "customerAccount(contacs)",
            "unknown field 'customerAccount.contacs' at column 17: did you mean 'contacts'?\n"
            "  customerAccount(contacs)\n"
            "                  ^",
            "customerAccount.contacs",
            "contacts",
        ),
        (
            "accessToken, customeraccount(CONTACTS(Adress))",
            "unknown field 'customerAccount.contacts.Adress' at column 39: did you mean "
            "'address'?\n"
            "  accessToken, customeraccount(CONTACTS(Adress))\n"
            "                                        ^",
            "customerAccount.contacts.Adress",
            "address",
        ),
        (
            "-customerAccount/*/auditinf",
            "unknown field 'customerAccount.*.auditinf' at column 20: did you mean 'auditInfo'?\n"
            "  -customerAccount/*/auditinf\n"
            "                     ^",
            "customerAccount.*.auditinf",
            "auditInfo",
        ),
        (
            "accessToken,bogus",
            "unknown field 'bogus' at column 13\n  accessToken,bogus\n              ^",
            "bogus",
            None,
        ),
    ],
)
def test_strict_mode_names_the_unknown_field_and_suggests_the_closest(
    text: str, message: str, path: str, suggestion: str | None
) -> None:
    with pytest.raises(UnknownFieldError) as caught:
        parse_ticket(text, strict=True)
    error = caught.value
    assert str(error) == message
    assert (error.path, error.suggestion, error.expression) == (path, suggestion, text)
    assert error.pos == message.splitlines()[2].index("^") - 2


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "customerAccount(firstName(x))",
            "unknown field 'customerAccount.firstName.x' at column 27: "
            "'customerAccount.firstName' has no sub-fields",
        ),
        (
            "accessToken/x",
            "unknown field 'accessToken.x' at column 13: 'accessToken' has no sub-fields",
        ),
        (
            "customerAccount(lastName(*))",
            "unknown field 'customerAccount.lastName.*' at column 26: "
            "'customerAccount.lastName' has no sub-fields",
        ),
        (
            "customerAccount(auditInfo(*(x)))",
            "unknown field 'customerAccount.auditInfo.*.x' at column 29: "
            "'customerAccount.auditInfo.*' has no sub-fields",
        ),
    ],
)
def test_strict_mode_rejects_a_sub_selection_on_a_primitive(text: str, message: str) -> None:
    with pytest.raises(UnknownFieldError) as caught:
        parse_ticket(text, strict=True)
    assert caught.value.message == message
    assert caught.value.suggestion is None


def test_strict_mode_drops_what_the_wildcard_copies_where_the_schema_has_no_such_field() -> None:
    text = "customerAccount(commerceSummary,contacts),-customerAccount/*/AUDITINFO"
    strict = parse_ticket(text, strict=True)
    # CommerceSummary has no auditInfo: removing it there removes nothing from a ticket.
    assert str(strict) == "customerAccount(commerceSummary,contacts(-auditInfo))"
    assert parse_ticket(str(strict), strict=True) == strict
    # Without strict, the copy stays, like any name the schema lacks.
    assert str(parse_ticket(text)) == (
        "customerAccount(commerceSummary(-auditInfo),contacts(-auditInfo))"
    )


def test_strict_mode_accepts_any_name_below_a_field_of_any_type() -> None:
    parsed = parse_ticket("customerAccount(attributes(values(Anything)))", strict=True)
    assert str(parsed) == "customerAccount(attributes(values(Anything)))"


def test_names_below_a_mapping_are_keys_and_below_them_the_values_fields() -> None:
    parsed = projection.parse(
        "PRODUCTS(Any-Key(PRODUCTCODE),*(content(seofriendlyurl))),labels(EN),groups(*(CONTENT))",
        schema=Catalog,
        strict=True,
    )
    # Keys keep their spelling; the values' fields resolve ignoring case.
    assert str(parsed) == (
        "products(*(content(seoFriendlyUrl)),Any-Key(productCode)),labels(EN),groups(*(content))"
    )
    with pytest.raises(UnknownFieldError) as caught:
        projection.parse("products(p1(contnt))", schema=Catalog, strict=True)
    assert caught.value.message == (
        "unknown field 'products.p1.contnt' at column 13: did you mean 'content'?"
    )
    with pytest.raises(UnknownFieldError) as caught:
        projection.parse("labels(en(x))", schema=Catalog, strict=True)
    assert caught.value.message == (
        "unknown field 'labels.en.x' at column 11: 'labels.en' has no sub-fields"
    )


def test_strict_mode_keeps_what_the_wildcard_copies_into_a_mapping() -> None:
    parsed = projection.parse("products,labels,-*/en,-*/CONTENT", schema=Catalog, strict=True)
    # "-*/x" copies x into every entry; below a mapping, x is a key like any other, as written.
    assert str(parsed) == "products(-CONTENT,-en),labels(-CONTENT,-en)"


def test_the_leftmost_unknown_name_is_reported() -> None:
    with pytest.raises(UnknownFieldError) as caught:
        parse_ticket("customerAccount(contacs(x)),bogus", strict=True)
    assert caught.value.path == "customerAccount.contacs"


def test_syntax_and_limits_are_checked_before_names() -> None:
    with pytest.raises(ProjectionSyntaxError):
        parse_ticket("bogus(x", strict=True)
    with pytest.raises(ProjectionLimitError):
        parse_ticket("bogus/a/b", strict=True, max_depth=2)
    with pytest.raises(ProjectionLimitError):
        parse_ticket("bogus,a,b", strict=True, max_items=2)


def test_without_strict_unknown_names_are_kept_as_written() -> None:
    parsed = parse_ticket("customerAccount(contacs,FIRSTNAME),bogus(Deeper),userid,accessToken(X)")
    assert str(parsed) == "accessToken(X),customerAccount(firstName,contacs),userId,bogus(Deeper)"
    ticket = BUILTINS[0]
    assert parsed.apply(ticket) == {
        "accessToken": ticket["accessToken"],
        "customerAccount": {"firstName": ticket["customerAccount"]["firstName"]},
        "userId": ticket["userId"],
    }


def test_misused_options_are_reported() -> None:
    with pytest.raises(ValueError, match="strict=True needs a schema"):
        projection.parse("a", strict=True)
    with pytest.raises(TypeError, match=r"msgspec\.Struct type"):
        projection.parse("a", schema=dict)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"msgspec\.Struct type"):
        projection.parse("a").typed(CustomerAuthTicket())  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="needs a schema"):
        projection.parse("a").typed()


# -- key order and equality -----------------------------------------------------------------------


def test_nodes_that_keep_only_named_keys_write_them_in_schema_order() -> None:
    parsed = parse_ticket("userId,customerAccount(lastName,firstName,id),accessToken")
    assert str(parsed) == "accessToken,customerAccount(id,firstName,lastName),userId"
    projected = orjson.loads(parsed.project(ENCODED[0]))
    assert list(projected) == ["accessToken", "customerAccount", "userId"]
    assert list(projected["customerAccount"]) == ["id", "firstName", "lastName"]
    merged = parse_ticket("customerAccount(lastName),customerAccount(firstName)")
    assert str(merged) == "customerAccount(firstName,lastName)"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("-accessToken", ["refreshToken", "userId", "zz", "Extra"]),
        ("*", ["userId", "zz", "accessToken", "Extra", "refreshToken"]),  # WHOLE: as it is
        ("*(x),-userId", ["accessToken", "refreshToken", "zz", "Extra"]),
        ("-*/x", ["accessToken", "refreshToken", "userId", "zz", "Extra"]),
    ],
)
def test_exclusion_and_wildcard_nodes_write_the_schema_order_then_the_rest(
    text: str, expected: list[str]
) -> None:
    parsed = parse_ticket(text)
    document = {"userId": "u", "zz": 1, "accessToken": "t", "Extra": 2, "refreshToken": "r"}
    data = orjson.dumps(document)
    assert list(parsed.apply(document)) == expected
    assert list(orjson.loads(internals.project_compiled(parsed, data))) == expected
    assert parsed.project(data) == internals.project_compiled(parsed, data)


def test_equality_ignores_the_schema() -> None:
    with_schema = parse_ticket("accessToken,customerAccount(firstName)", strict=True)
    without = projection.parse("accessToken,customerAccount(firstName)")
    assert with_schema == without
    assert hash(with_schema) == hash(without)
    assert (with_schema.schema, without.schema) == (CustomerAuthTicket, None)
    assert repr(with_schema) == (
        "projection.parse('accessToken,customerAccount(firstName)', schema=CustomerAuthTicket)"
    )
    copy = pickle.loads(pickle.dumps(with_schema))
    assert copy == with_schema
    assert copy.schema is CustomerAuthTicket
    with pytest.raises(AttributeError):
        with_schema.schema = None  # type: ignore[misc]


# -- typed ----------------------------------------------------------------------------------------


def test_typed_holds_only_the_selected_fields() -> None:
    typed = projection.parse("customerAccount(firstName,lastName)").typed(CustomerAuthTicket)
    assert typed is projection.parse("customerAccount(firstName, lastName)").typed(
        CustomerAuthTicket
    )
    assert field_names(typed) == ["customerAccount"]
    account_type = typing.get_args(field_type(typed, "customerAccount"))[0]
    assert field_names(account_type) == ["firstName", "lastName"]
    decoded = msgspec.json.decode(ENCODED[0], type=typed)
    account = TICKETS[0].customerAccount
    assert isinstance(account, CustomerAccount)
    assert msgspec.structs.asdict(decoded.customerAccount) == {  # type: ignore[attr-defined]
        "firstName": account.firstName,
        "lastName": account.lastName,
    }
    assert not hasattr(decoded, "accessToken")


def test_typed_keeps_the_real_types() -> None:
    parsed = projection.parse("accessTokenExpiration,customerAccount(contacts(id),commerceSummary)")
    typed = parsed.typed(CustomerAuthTicket)
    assert field_type(typed, "accessTokenExpiration") == field_type(
        CustomerAuthTicket, "accessTokenExpiration"
    )
    ticket = next(t for t, data in zip(TICKETS, ENCODED, strict=True) if b'"contacts":[{' in data)
    decoded: Any = msgspec.json.decode(msgspec.json.encode(ticket), type=typed)
    assert decoded.accessTokenExpiration == ticket.accessTokenExpiration
    assert type(decoded.customerAccount.commerceSummary) is CommerceSummary
    contacts = decoded.customerAccount.contacts
    assert isinstance(contacts, tuple)
    assert contacts
    assert [field_names(type(contact)) for contact in contacts] == [["id"]] * len(contacts)


def test_typed_fields_default_to_unset_and_invent_nothing() -> None:
    typed = projection.parse("customerAccount(firstName,lastName),userId").typed(CustomerAuthTicket)
    decoded: Any = msgspec.json.decode(b'{"customerAccount":{}}', type=typed)
    assert decoded.userId is UNSET
    assert decoded.customerAccount.firstName is UNSET
    assert msgspec.json.encode(decoded) == b'{"customerAccount":{}}'


def test_typed_follows_excludes_and_wildcards() -> None:
    excluded = projection.parse("-customerAccount/contacts,-jwtAccessToken").typed(
        CustomerAuthTicket
    )
    assert field_names(excluded) == [
        name for name in field_names(CustomerAuthTicket) if name != "jwtAccessToken"
    ]
    account_type = typing.get_args(field_type(excluded, "customerAccount"))[0]
    assert "contacts" not in field_names(account_type)
    assert len(field_names(account_type)) == len(field_names(CustomerAccount)) - 1

    starred = projection.parse("customerAccount(*(auditInfo))").typed(CustomerAuthTicket)
    account_type = typing.get_args(field_type(starred, "customerAccount"))[0]
    assert field_names(account_type) == field_names(CustomerAccount)
    # A node below a primitive keeps it whole (rule 7): its type is the schema's.
    assert field_type(account_type, "firstName") == field_type(CustomerAccount, "firstName")
    contact_type = typing.get_args(typing.get_args(field_type(account_type, "contacts"))[0])[0]
    assert field_names(contact_type) == ["auditInfo"]

    nothing = projection.parse("customerAccount(-*)").typed(CustomerAuthTicket)
    account_type = typing.get_args(field_type(nothing, "customerAccount"))[0]
    assert field_names(account_type) == []


def test_typed_narrows_the_values_of_a_mapping() -> None:
    document = {
        "products": {
            "p1": {"productCode": "P1", "content": {"productName": "one", "seoFriendlyUrl": "u1"}},
            "p2": {"productCode": "P2", "content": {"productName": "two", "seoFriendlyUrl": None}},
        },
        "labels": {"en": "English", "fr": "French"},
        "groups": {"g": [{"productCode": "P3"}]},
    }
    data = msgspec.json.encode(document)
    for text, value_fields, exact in [
        ("products(*(productCode))", ["productCode"], True),
        ("labels(en),groups(*(productCode))", None, False),
        # Keys with different masks: the values' type is their union, which decodes each kept
        # value, but decodes more than the projection keeps from the whole document.
        ("products(p1(productCode),p2(content(productName)))", ["productCode", "content"], False),
        ("products(p1,p2(content))", None, False),  # p1 whole: the values stay Products
    ]:
        parsed = projection.parse(text, schema=Catalog)
        typed = parsed.typed()
        if value_fields is not None:
            products = typing.get_args(field_type(typed, "products"))[0]
            assert typing.get_origin(products) is dict
            assert field_names(typing.get_args(products)[1]) == value_fields
        decoded = msgspec.json.decode(parsed.project(data), type=typed)
        assert msgspec.to_builtins(decoded) == parsed.apply(document)
        assert (msgspec.json.decode(data, type=typed) == decoded) is exact
    assert field_type(projection.parse("labels(en)").typed(Catalog), "labels") == field_type(
        Catalog, "labels"
    )


def test_typed_of_everything_decodes_the_whole_ticket() -> None:
    typed = projection.parse("").typed(CustomerAuthTicket)
    assert field_names(typed) == field_names(CustomerAuthTicket)
    assert msgspec.json.encode(msgspec.json.decode(ENCODED[1], type=typed)) == ENCODED[1]


def test_typed_keeps_encode_names_and_uses_the_parse_schema_by_default() -> None:
    parsed = projection.parse("homeAddress(SEOFRIENDLYURL)", schema=Renamed)
    typed = parsed.typed()
    assert typed is projection.parse("homeAddress(seoFriendlyUrl)").typed(Renamed)
    assert [(f.name, f.encode_name) for f in msgspec.structs.fields(typed)] == [
        ("home_address", "homeAddress")
    ]
    decoded: Any = msgspec.json.decode(
        b'{"firstName":"x","homeAddress":{"seoFriendlyUrl":"u","productName":"p"}}', type=typed
    )
    assert msgspec.json.encode(decoded) == b'{"homeAddress":{"seoFriendlyUrl":"u"}}'


def test_typed_of_a_case_insensitive_projection_matches_by_casefold() -> None:
    parsed = projection.parse("CUSTOMERACCOUNT(FIRSTNAME)", case_insensitive=True)
    typed = parsed.typed(CustomerAuthTicket)
    assert field_names(typed) == ["customerAccount"]
    assert field_names(typing.get_args(field_type(typed, "customerAccount"))[0]) == ["firstName"]


def _ticket_cases() -> list[dict[str, Any]]:
    """The real-world expressions that apply to a ticket: every name is a ticket field."""
    table = json.loads((CASES / "kibo_expressions.json").read_text(encoding="utf-8"))
    applicable = []
    for case in table["cases"]:
        try:
            parse_ticket(case["expression"], strict=True)
        except UnknownFieldError:
            continue
        applicable.append(case)
    return applicable


TICKET_CASES = _ticket_cases()


def test_enough_real_world_expressions_apply_to_tickets() -> None:
    assert len(TICKET_CASES) >= 5


def assert_typed_decoding_agrees(parsed: projection.Projection, index: int) -> Any:
    """Decoding the projected bytes, the projected values and the full ticket give one value."""
    typed = parsed.typed(CustomerAuthTicket)
    projected = parsed.project(ENCODED[index])
    from_bytes = msgspec.json.decode(projected, type=typed)
    from_values = msgspec.convert(parsed.apply(BUILTINS[index]), typed)
    from_full = msgspec.json.decode(ENCODED[index], type=typed)
    assert from_bytes == from_values == from_full
    # Keys in schema order, values byte for byte: the typed object re-encodes to the projection.
    assert msgspec.json.encode(from_bytes) == projected
    return from_bytes


@pytest.mark.parametrize("case", [pytest.param(case, id=case["id"]) for case in TICKET_CASES])
def test_real_world_expressions_decode_into_their_typed_struct(case: dict[str, Any]) -> None:
    resolved = parse_ticket(case["expression"])
    plain = projection.parse(case["expression"])
    for index in range(len(TICKETS)):
        value = assert_typed_decoding_agrees(resolved, index)
        # Parsed without the schema, only key order may differ: the fields are the same.
        other = msgspec.json.decode(ENCODED[index], type=plain.typed(CustomerAuthTicket))
        assert msgspec.to_builtins(other) == msgspec.to_builtins(value)


# -- generated expressions ------------------------------------------------------------------------

Fields = list[tuple[str, Any]]


def struct_in(annotation: Any) -> type[msgspec.Struct] | None:
    if isinstance(annotation, type) and issubclass(annotation, msgspec.Struct):
        return annotation
    for argument in typing.get_args(annotation):
        found = struct_in(argument)
        if found is not None:
            return found
    return None


def fields_of(struct: type[msgspec.Struct]) -> Fields:
    """Each JSON name of ``struct`` with the Struct below it, if any."""
    return [(f.encode_name, struct_in(f.type)) for f in msgspec.structs.fields(struct)]


def below_wildcard(fields: Fields) -> Fields:
    """The names a ``*`` group can hold: the fields of every Struct below ``fields``."""
    merged: dict[str, Any] = {}
    for _, struct in fields:
        if struct is not None:
            for name, child in fields_of(struct):
                merged.setdefault(name, child)
    return list(merged.items())


def spellings(name: str) -> st.SearchStrategy[str]:
    return st.sampled_from([name, name, name, name.upper(), name.lower()])


@st.composite
def selections(draw: st.DrawFn, fields: Fields, depth: int = 1, *, strange: bool = False) -> str:
    """A selection over ``fields`` and, if ``strange``, two names the schema lacks: some of them,
    in any case, grouped down to four levels, some excluded, and sometimes a ``*`` (bare,
    grouped or excluded below)."""
    if strange:
        fields = [*fields, ("zz", None), ("yy", None)]
    count = draw(st.integers(min_value=1, max_value=min(3, len(fields))))
    chosen = draw(st.permutations(fields))[:count]
    items = []
    for name, struct in chosen:
        written = draw(spellings(name))
        nested = struct is not None and depth < 4
        kind = draw(
            st.sampled_from(["bare", "group", "exclude"] if nested else ["bare", "exclude"])
        )
        if kind == "group":
            group = selections(fields_of(struct), depth + 1, strange=strange)
            items.append(f"{written}({draw(group)})")
        elif kind == "exclude" and nested and draw(st.booleans()):
            items.append(f"-{written}/{draw(st.sampled_from(fields_of(struct)))[0]}")
        elif kind == "exclude":
            items.append(f"-{written}")
        else:
            items.append(written)
    below = below_wildcard(fields)
    star = draw(
        st.sampled_from(["", "", "*", "group", "exclude"] if below and depth < 4 else ["", "*"])
    )
    if star == "*":
        items.append("*")
    elif star == "group":
        items.append(f"*({draw(selections(below, depth + 1, strange=strange))})")
    elif star == "exclude":
        items.append(f"-*/{draw(spellings(draw(st.sampled_from(below))[0]))}")
    return ",".join(draw(st.permutations(items)))


ticket_expressions = selections(fields_of(CustomerAuthTicket))


@given(ticket_expressions, st.integers(min_value=0, max_value=len(TICKETS) - 1))
def test_typed_decoding_agrees_with_projecting(text: str, index: int) -> None:
    assert_typed_decoding_agrees(parse_ticket(text, strict=True), index)


@given(ticket_expressions)
# A "*(...)" group copied by an exclusion into a field of primitives (auditInfo) keeps it whole.
@example("customerAccount(-auditInfo/createBy,*(attributeDefinitionId,*(createBy)))")
def test_resolved_canonical_text_round_trips_with_and_without_the_schema(text: str) -> None:
    parsed = parse_ticket(text, strict=True)
    assert parse_ticket(str(parsed), strict=True) == parsed
    assert projection.parse(str(parsed)) == parsed


# -- command line ---------------------------------------------------------------------------------


def test_check_with_a_schema_prints_the_resolved_expression(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["check", "customeraccount(CONTACTS),ACCESSTOKEN", "--schema", "authticket"]) == 0
    assert capsys.readouterr().out.splitlines()[0] == "accessToken,customerAccount(contacts)"


def test_check_strict_reports_an_unknown_field(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "--schema", "authticket", "--strict", "customerAccount(contacs)"]) == 1
    assert capsys.readouterr().err == (
        "projection: unknown field 'customerAccount.contacs' at column 17: did you mean "
        "'contacts'?\n  customerAccount(contacs)\n                  ^\n"
    )


def test_strict_without_a_schema_is_misuse(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["check", "--strict", "a"])
    assert caught.value.code == 2
    assert capsys.readouterr().err == "projection: --strict needs --schema\n"
