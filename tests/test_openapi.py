"""Struct types and routes from an OpenAPI 3.0 document (``projection.openapi``): every construct's
type, names resolved against the built types, routes, errors, laziness, and projections that agree
with decoding documents generated from the schemas."""

from __future__ import annotations

import contextlib
import datetime
import json
import sys
import threading
import types
import typing
from pathlib import Path
from typing import Any

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st
from msgspec import UNSET, UnsetType

import projection
import projection.kibo
from projection import OpenAPIError, OpenAPILookupError, UnknownFieldError
from projection.kibo import sample_authtickets
from projection.openapi import OpenAPI, Operation

from .test_schema import struct_in

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "kibo_openapi.json"
CASES = Path(__file__).resolve().parent / "cases"
DOCUMENT: dict[str, Any] = json.loads(FIXTURE.read_text(encoding="utf-8"))
SPEC = OpenAPI.load(FIXTURE)
SCHEMAS: dict[str, Any] = DOCUMENT["components"]["schemas"]


def fresh() -> OpenAPI:
    return OpenAPI.load(FIXTURE)


def minimal(schemas: dict[str, Any], paths: dict[str, Any] | None = None) -> dict[str, Any]:
    """A small document of the project's own, around ``schemas`` and ``paths``."""
    return {
        "openapi": "3.0.1",
        "info": {"title": "t", "version": "1"},
        "paths": paths or {},
        "components": {"schemas": schemas},
    }


def fields(struct: type[msgspec.Struct]) -> dict[str, Any]:
    return {field.encode_name: field.type for field in msgspec.structs.fields(struct)}


def plain(value: Any) -> Any:
    """``value`` as JSON types: Structs as dicts, tuples as lists (``apply`` takes JSON values)."""
    return msgspec.json.decode(msgspec.json.encode(value))


# -- loading --------------------------------------------------------------------------------------


def test_a_document_loads_from_a_path_bytes_or_a_mapping() -> None:
    for source in (FIXTURE, str(FIXTURE), FIXTURE.read_bytes(), DOCUMENT):
        spec = OpenAPI.load(source)
        assert spec.version == "3.0.1"
        assert spec.schema_names() == list(SCHEMAS)
    assert repr(SPEC) == "<OpenAPI 3.0.1 'Kibo-shaped test document': 30 schemas>"


def test_yaml_documents_load_through_pyyaml(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # JSON is YAML: a stand-in for PyYAML that reads JSON shows the path a YAML file takes.
    fake = types.ModuleType("yaml")

    class YAMLError(Exception):
        pass

    def load(data: bytes, Loader: object) -> Any:  # noqa: N803 (PyYAML's spelling)
        assert Loader is fake.SafeLoader
        try:
            return json.loads(data)
        except ValueError as error:
            raise YAMLError(str(error)) from None

    fake.SafeLoader = object()  # type: ignore[attr-defined]
    fake.YAMLError = YAMLError  # type: ignore[attr-defined]
    fake.load = load  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "yaml", fake)
    path = tmp_path / "kibo.yaml"
    path.write_bytes(FIXTURE.read_bytes())
    assert OpenAPI.load(path).schema_names() == list(SCHEMAS)
    path.write_bytes(b"openapi: [")
    with pytest.raises(OpenAPIError, match=r"^not a YAML document: "):
        OpenAPI.load(path)
    # Without a known suffix, a document that starts like a JSON object is JSON, else YAML.
    bare = tmp_path / "kibo"
    bare.write_bytes(b"\n " + FIXTURE.read_bytes())
    monkeypatch.setattr(fake, "load", None)
    assert OpenAPI.load(bare).schema_names() == list(SCHEMAS)
    bare.write_bytes(b"openapi: 3.0.1\n")
    with pytest.raises(TypeError):  # the stand-in's load was taken away: YAML was tried
        OpenAPI.load(bare)


def test_yaml_without_pyyaml_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "yaml", None)  # import yaml raises ImportError
    path = tmp_path / "kibo.yml"
    path.write_text("openapi: 3.0.1\n", encoding="utf-8")
    with pytest.raises(OpenAPIError) as caught:
        OpenAPI.load(path)
    assert str(caught.value) == (
        "reading a YAML document needs PyYAML (pip install pyyaml), or give the JSON form"
    )
    with pytest.raises(OpenAPIError, match="needs PyYAML"):
        OpenAPI.load(b"openapi: 3.0.1\n")


@pytest.mark.parametrize(
    ("source", "message"),
    [
        (
            {"swagger": "2.0", "paths": {}},
            "not an OpenAPI 3.x document: it is Swagger '2.0'; convert it to OpenAPI 3 first",
        ),
        ({"openapi": "2.0"}, "not an OpenAPI 3.x document: it says openapi '2.0'"),
        ({"openapi": 3.0}, "not an OpenAPI 3.x document: it says openapi 3.0"),
        ({"info": {}}, "not an OpenAPI 3.x document: it has no 'openapi' version field"),
        (b"[1, 2]", "not an OpenAPI 3.x document: the document is a list"),
        (
            {"openapi": "3.0.0", "components": {"schemas": []}},
            "not a usable OpenAPI document: 'components.schemas' is not an object",
        ),
        (
            {"openapi": "3.0.0", "paths": []},
            "not a usable OpenAPI document: 'paths' is not an object",
        ),
    ],
)
def test_a_document_that_is_not_openapi_3_says_so(source: Any, message: str) -> None:
    with pytest.raises(OpenAPIError) as caught:
        OpenAPI.load(source)
    assert str(caught.value) == message
    assert isinstance(caught.value, ValueError)
    assert isinstance(caught.value, projection.ProjectionError)


def test_a_file_that_is_not_json_says_where() -> None:
    with pytest.raises(OpenAPIError, match=r"^not a JSON document: .*byte 12"):
        OpenAPI.load(b'{"openapi": }')


def test_misuse_is_a_type_error_and_a_missing_file_an_os_error(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="takes a path, bytes or a mapping, not int"):
        OpenAPI.load(3)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="must be a mapping"):
        OpenAPI([])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="must be a str"):
        SPEC.schema(1)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="both str"):
        SPEC.match("GET", b"/commerce/orders")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="both str"):
        SPEC.response_schema(None, "/commerce/orders")  # type: ignore[arg-type]
    with pytest.raises(FileNotFoundError):
        OpenAPI.load(tmp_path / "missing.json")


# -- types ----------------------------------------------------------------------------------------


def test_the_auth_ticket_has_the_hand_written_models_fields_and_decodes_their_samples() -> None:
    ticket = SPEC.schema("CustomerAuthTicket")
    assert ticket.__name__ == "CustomerAuthTicket"

    def names(struct: Any) -> dict[str, Any]:
        return {
            field.encode_name: names(struct_in(field.type)) if struct_in(field.type) else None
            for field in msgspec.structs.fields(struct)
        }

    assert names(ticket) == names(projection.kibo.CustomerAuthTicket)
    for sample in sample_authtickets(40, seed=5):
        data = msgspec.json.encode(sample)
        decoded = msgspec.json.decode(data, type=ticket)
        assert msgspec.to_builtins(decoded) == msgspec.to_builtins(sample)
        assert msgspec.json.encode(decoded) == data


def test_types_are_frozen_keyword_structs_whose_fields_default_to_unset() -> None:
    order = SPEC.schema("Order")
    config = order.__struct_config__
    assert config.frozen
    assert not config.forbid_unknown_fields
    with pytest.raises(TypeError):
        order("o1")  # keyword only
    assert all(field.default is UNSET for field in msgspec.structs.fields(order))
    decoded = msgspec.json.decode(b'{"unknown": [1, {"x": 2}]}', type=order)
    assert msgspec.json.encode(decoded) == b"{}"


def test_primitives_nullable_and_date_times() -> None:
    order = fields(SPEC.schema("Order"))
    assert order["id"] == str | None | UnsetType
    assert order["total"] == float | UnsetType
    assert order["handlingAmount"] == float | None | UnsetType
    assert order["orderNumber"] == int | None | UnsetType
    assert order["submittedDate"] == datetime.datetime | None | UnsetType
    assert fields(SPEC.schema("Cart"))["expirationDate"] == datetime.datetime | None | UnsetType
    assert fields(SPEC.schema("CartSummary"))["isExpired"] == bool | UnsetType
    decoded: Any = msgspec.json.decode(
        b'{"id": null, "total": 3, "submittedDate": "2024-05-06T07:08:09.5Z", "handlingAmount":'
        b" null}",
        type=SPEC.schema("Order"),
    )
    assert decoded.id is None
    assert decoded.total == 3.0
    assert isinstance(decoded.total, float)
    assert decoded.submittedDate == datetime.datetime(
        2024, 5, 6, 7, 8, 9, 500000, tzinfo=datetime.UTC
    )
    assert decoded.handlingAmount is None
    for bad in (b'{"total": null}', b'{"total": "3"}', b'{"submittedDate": "yesterday"}'):
        with pytest.raises(msgspec.ValidationError):
            msgspec.json.decode(bad, type=SPEC.schema("Order"))


def test_a_bare_reference_to_an_object_may_be_null() -> None:
    # OpenAPI 3.0 cannot say it, and Kibo sends null for objects it has not set.
    contact = fields(SPEC.schema("CustomerContact"))
    assert contact["address"] == SPEC.schema("CommerceRuntimeAddress") | None | UnsetType
    decoded: Any = msgspec.json.decode(b'{"address": null}', type=SPEC.schema("CustomerContact"))
    assert decoded.address is None
    # A reference to a component that is not an object keeps the document's nullability.
    assert fields(SPEC.schema("Order"))["paymentStatus"] == str | UnsetType


def test_all_of_merges_the_parts_first_then_the_own_properties() -> None:
    account = SPEC.schema("CustomerAccount")
    base = list(SCHEMAS["AccountBase"]["properties"])
    own = list(SCHEMAS["CustomerAccount"]["properties"])
    assert list(fields(account)) == base + own
    assert account is not SPEC.schema("AccountBase")
    # allOf with one part and no properties of its own only gives the part siblings (nullable).
    order = fields(SPEC.schema("Order"))
    assert order["fulfillmentInfo"] == SPEC.schema("FulfillmentInfo") | None | UnsetType


def test_arrays_are_tuples_and_recursive_schemas_reference_themselves() -> None:
    category: Any = SPEC.schema("Category")
    image: Any = SPEC.schema("CategoryImage")
    category_fields = fields(category)
    assert category_fields["childrenCategories"] == tuple[category, ...] | None | UnsetType
    assert category_fields["parentCategory"] == category | None | UnsetType
    data = (
        b'{"categoryId": 1, "childrenCategories": [{"categoryId": 2, "parentCategory": '
        b'{"categoryId": 1}, "childrenCategories": [{"categoryId": 3, "childrenCategories": null}]}'
        b"]}"
    )
    decoded: Any = msgspec.json.decode(data, type=category)
    assert decoded.childrenCategories[0].childrenCategories[0].categoryId == 3
    assert type(decoded.childrenCategories[0].parentCategory) is category
    assert msgspec.json.decode(msgspec.json.encode(decoded)) == json.loads(data)
    content = fields(SPEC.schema("CategoryContent"))
    assert content["categoryImages"] == tuple[image, ...] | None | UnsetType
    attribute = fields(SPEC.schema("CustomerAttribute"))
    assert attribute["values"] == tuple[Any, ...] | None | UnsetType


def test_additional_properties_are_dicts() -> None:
    order = fields(SPEC.schema("Order"))
    attribute: Any = SPEC.schema("CustomerAttribute")
    link: Any = SPEC.schema("Link")
    assert order["extendedProperties"] == dict[str, str] | None | UnsetType
    assert order["attributesByName"] == dict[str, tuple[attribute, ...]] | UnsetType
    assert order["_links"] == dict[str, link] | None | UnsetType
    assert order["data"] == dict[str, Any] | None | UnsetType  # an object with nothing declared
    assert fields(SPEC.schema("OrderItem"))["data"] == dict[str, Any] | None | UnsetType
    decoded: Any = msgspec.json.decode(
        b'{"_links": {"self": {"href": "/o/1"}}, "extendedProperties": {"a": "b"}}',
        type=SPEC.schema("Order"),
    )
    assert decoded.extendedProperties == {"a": "b"}
    assert decoded._links["self"].href == "/o/1"
    with pytest.raises(msgspec.ValidationError):
        msgspec.json.decode(b'{"extendedProperties": {"a": 1}}', type=SPEC.schema("Order"))


def test_enums_are_their_base_type_so_values_the_document_omits_still_decode() -> None:
    order = fields(SPEC.schema("Order"))
    assert order["status"] == str | None | UnsetType
    assert order["priority"] == int | UnsetType
    decoded: Any = msgspec.json.decode(
        b'{"status": "OnHold", "priority": 7, "paymentStatus": "Authorized"}',
        type=SPEC.schema("Order"),
    )
    assert (decoded.status, decoded.priority, decoded.paymentStatus) == ("OnHold", 7, "Authorized")
    # A component that is an enum has no fields: it is no Struct.
    with pytest.raises(OpenAPIError) as caught:
        SPEC.schema("OrderStatus")
    assert str(caught.value) == (
        "schema 'OrderStatus' is not an object with properties: its type is <class 'str'>"
    )


def test_one_of_and_untyped_schemas_are_any() -> None:
    order = fields(SPEC.schema("Order"))
    assert order["discountValue"] is Any
    assert order["metadata"] is Any
    for value in (b"1.5", b'"10%"', b"null", b"[1]"):
        decoded: Any = msgspec.json.decode(
            b'{"discountValue": ' + value + b', "metadata": ' + value + b"}",
            type=SPEC.schema("Order"),
        )
        assert decoded.discountValue == decoded.metadata == json.loads(value)


def test_names_that_are_not_identifiers_are_renamed_on_the_wire_only() -> None:
    link = SPEC.schema("Link")
    date_range = SPEC.schema("DateRange")
    renamed = [
        (field.name, field.encode_name)
        for struct in (link, date_range, SPEC.schema("Order"))
        for field in msgspec.structs.fields(struct)
        if field.name != field.encode_name
    ]
    assert renamed == [("x_request_id", "x-request-id"), ("from_", "from")]
    decoded: Any = msgspec.json.decode(
        b'{"from": "2024-01-01T00:00:00Z", "to": null}', type=date_range
    )
    assert decoded.from_ == datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC)
    assert msgspec.json.encode(decoded) == b'{"from":"2024-01-01T00:00:00Z","to":null}'
    clashes = OpenAPI.load(
        minimal(
            {
                "X": {
                    "type": "object",
                    "properties": {
                        name: {"type": "integer"}
                        for name in ("a-b", "a_b", "class", "class_", "1st", "", "__init__", "_x")
                    },
                }
            }
        )
    ).schema("X")
    assert [(field.name, field.encode_name) for field in msgspec.structs.fields(clashes)] == [
        ("a_b_", "a-b"),
        ("a_b", "a_b"),
        ("class__", "class"),
        ("class_", "class_"),
        ("_1st", "1st"),
        ("field", ""),
        ("init__", "__init__"),
        ("_x", "_x"),
    ]


def test_inline_objects_references_and_openapi_3_1_types() -> None:
    spec = OpenAPI.load(
        minimal(
            {
                "Shipment": {
                    "type": "object",
                    "properties": {
                        "destination": {
                            "type": "object",
                            "properties": {"city": {"type": ["string", "null"]}},
                        },
                        "weight": {"$ref": "#/components/schemas/Measure/properties/value"},
                        "remote": {"$ref": "other.json#/components/schemas/Thing"},
                        "either": {"type": ["string", "integer"]},
                        "nothing": {"type": "null"},
                        "mixed": {
                            "allOf": [{"type": "string"}, {"type": "string", "format": "uri"}]
                        },
                        "nested": {"allOf": [{"$ref": "#/components/schemas/Measure"}]},
                        "merged": {
                            "allOf": [{"$ref": "#/components/schemas/Measure"}],
                            "properties": {"unit": {"type": "string"}},
                        },
                    },
                },
                "Measure": {"properties": {"value": {"type": "number", "nullable": True}}},
                "Loop": {"type": "array", "items": {"$ref": "#/components/schemas/Loop"}},
            }
        )
    )
    shipment = fields(spec.schema("Shipment"))
    destination = struct_in(shipment["destination"])
    assert destination is not None
    assert destination.__name__ == "ShipmentDestination"
    assert fields(destination) == {"city": str | None | UnsetType}
    assert shipment["weight"] == float | None | UnsetType
    assert shipment["remote"] is Any  # other documents are not followed
    assert shipment["either"] is Any
    assert shipment["nothing"] == type(None) | UnsetType
    assert shipment["mixed"] is Any
    assert shipment["nested"] == spec.schema("Measure") | UnsetType  # not a bare reference
    merged = struct_in(shipment["merged"])
    assert merged is not None
    assert merged.__name__ == "ShipmentMerged"
    assert list(fields(merged)) == ["value", "unit"]
    # An array of itself: the inner reference, which would never end, is Any.
    with pytest.raises(OpenAPIError) as caught:
        spec.schema("Loop")
    assert str(caught.value).endswith("its type is tuple[typing.Any, ...]")


def test_a_reference_to_no_schema_names_the_closest_and_keeps_nothing_half_built() -> None:
    spec = OpenAPI.load(
        minimal(
            {
                "Order": {
                    "type": "object",
                    "properties": {
                        "items": {"type": "array", "items": {"$ref": "#/components/schemas/Item"}},
                        "payment": {"$ref": "#/components/schemas/Paymnt"},
                    },
                },
                "Item": {"type": "object", "properties": {"id": {"type": "integer"}}},
                "Payment": {"type": "object", "properties": {"id": {"type": "integer"}}},
                "Bad": {"properties": {"x": {"$ref": "#/components/nowhere"}}},
            }
        )
    )
    for _ in range(2):
        with pytest.raises(OpenAPIError) as caught:
            spec.schema("Order")
        assert str(caught.value) == (
            "$ref '#/components/schemas/Paymnt' points to no component schema: did you mean "
            "'Payment'?"
        )
        assert not isinstance(caught.value, OpenAPILookupError)
        assert spec.built_schemas == ()
    assert list(fields(spec.schema("Item"))) == ["id"]
    assert spec.built_schemas == ("Item",)
    with pytest.raises(OpenAPIError, match=r"^\$ref '#/components/nowhere' points to nothing"):
        spec.schema("Bad")


def test_schemas_nested_too_deep_are_refused() -> None:
    deep: dict[str, Any] = {"type": "string"}
    for _ in range(100):
        deep = {"type": "array", "items": deep}
    spec = OpenAPI.load(minimal({"Deep": {"type": "object", "properties": {"x": deep}}}))
    with pytest.raises(OpenAPIError, match="nests deeper than 64 levels"):
        spec.schema("Deep")


def test_an_unknown_schema_names_the_closest() -> None:
    with pytest.raises(OpenAPILookupError) as caught:
        SPEC.schema("CustomerAuthTiket")
    assert str(caught.value) == (
        "no schema 'CustomerAuthTiket' in the document: did you mean 'CustomerAuthTicket', "
        "'CustomerAttribute' or 'CustomerNote'?"
    )
    assert caught.value.name == "CustomerAuthTiket"
    assert caught.value.suggestions == ("CustomerAuthTicket", "CustomerAttribute", "CustomerNote")
    assert isinstance(caught.value, LookupError)
    with pytest.raises(OpenAPILookupError) as caught:
        SPEC.schema("customerauthticket")  # names are exact; the suggestion ignores case
    assert caught.value.suggestions[0] == "CustomerAuthTicket"
    with pytest.raises(OpenAPILookupError) as caught:
        SPEC.schema("Zebra")
    assert str(caught.value) == "no schema 'Zebra' in the document"
    assert caught.value.suggestions == ()


# -- schema-aware projections ----------------------------------------------------------------------


def test_names_resolve_against_built_types_as_against_the_hand_written_models() -> None:
    ticket = SPEC.schema("CustomerAuthTicket")
    table = json.loads((CASES / "kibo_expressions.json").read_text(encoding="utf-8"))
    expressions = [case["expression"] for case in table["cases"]] + [
        "customeraccount(CONTACTS(address(CITYORTOWN))),ACCESSTOKEN",
        "customerAccount(*(AUDITINFO(createdate))),-*/contacts/*/createDate",
    ]
    agreed = 0
    for text in expressions:
        for strict in (False, True):
            outcomes = []
            for schema in (ticket, projection.kibo.CustomerAuthTicket):
                try:
                    outcomes.append(str(projection.parse(text, schema=schema, strict=strict)))
                except UnknownFieldError as error:
                    outcomes.append(str(error))
            assert outcomes[0] == outcomes[1], text
            agreed += strict and not outcomes[0].startswith("unknown field")
    assert agreed >= 5


def test_strict_names_suggest_the_closest_field() -> None:
    with pytest.raises(UnknownFieldError) as caught:
        projection.parse(
            "items(childrenCategories(content(nmae)))",
            schema=SPEC.schema("CategoryCollection"),
            strict=True,
        )
    assert str(caught.value) == (
        "unknown field 'items.childrenCategories.content.nmae' at column 34: did you mean "
        "'name'?\n"
        "  items(childrenCategories(content(nmae)))\n"
        "                                   ^"
    )
    lenient = projection.parse(
        "ITEMS(childrencategories(CONTENT(nmae)))", schema=SPEC.schema("CategoryCollection")
    )
    assert str(lenient) == "items(childrenCategories(content(nmae)))"


def test_strict_names_below_mappings_and_untyped_fields() -> None:
    order = SPEC.schema("Order")
    parsed = projection.parse(
        "_LINKS(Self(HREF)),extendedproperties(Gift),attributesByName(*(VALUES)),metadata(a(b))",
        schema=order,
        strict=True,
    )
    assert str(parsed) == (
        "extendedProperties(Gift),attributesByName(*(values)),metadata(a(b)),_links(Self(href))"
    )
    with pytest.raises(UnknownFieldError, match=r"'extendedProperties\.Gift' has no sub-fields"):
        projection.parse("extendedProperties(Gift(x))", schema=order, strict=True)
    with pytest.raises(UnknownFieldError, match="did you mean 'href'"):
        projection.parse("_links(self(hre))", schema=order, strict=True)


def test_typed_projections_of_built_types_decode_what_the_projection_keeps() -> None:
    collection = SPEC.schema("OrderCollection")
    document = {
        "totalCount": 1,
        "items": [
            {
                "id": "o1",
                "status": "Submitted",
                "submittedDate": "2024-01-02T03:04:05Z",
                "items": [{"id": "i1", "product": {"productCode": "P", "price": 2.5}}],
                "_links": {"self": {"href": "/o1", "templated": False}},
                "validity": {"from": None, "to": "2025-01-01T00:00:00Z"},
            }
        ],
    }
    data = msgspec.json.encode(document)
    parsed = projection.parse(
        "items(STATUS,submitteddate,items(product(price)),_links(*(href)),validity(FROM))",
        schema=collection,
        strict=True,
    )
    typed = parsed.typed()
    decoded: Any = msgspec.json.decode(parsed.project(data), type=typed)
    assert plain(decoded) == parsed.apply(document)
    order = decoded.items[0]
    assert order.submittedDate == datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=datetime.UTC)
    assert list(fields(type(order.items[0].product))) == ["price"]
    assert list(fields(type(order._links["self"]))) == ["href"]
    assert order.validity.from_ is None
    assert msgspec.json.encode(decoded) == parsed.project(data)


# -- routes ---------------------------------------------------------------------------------------


def test_operations_that_take_response_fields() -> None:
    assert [tuple(op) for op in SPEC.operations()] == [
        ("GET", "/commerce/customer/authtickets/anonymousshopper", "CustomerAuthTicket", True),
        ("POST", "/commerce/customer/authtickets", "CustomerAuthTicket", True),
        ("GET", "/commerce/customer/accounts", "CustomerAccountCollection", True),
        ("GET", "/commerce/customer/accounts/{accountId}", "CustomerAccount", True),
        ("GET", "/commerce/customer/accounts/{accountId}/contacts", "CustomerContact", True),
        ("GET", "/commerce/catalog/storefront/categories/tree", "Category", True),
        ("GET", "/commerce/catalog/storefront/categories/{categoryId}", "Category", True),
        ("GET", "/commerce/catalog/storefront/categories", "CategoryCollection", True),
        ("GET", "/commerce/carts/current", "Cart", True),
        ("GET", "/commerce/carts/current/summary", "CartSummary", True),
        ("GET", "/commerce/carts/{cartId}", "Cart", True),
        ("GET", "/commerce/carts/{cartId}/items/{cartItemId}", "CartItem", True),
        ("GET", "/commerce/orders", "OrderCollection", True),
        ("GET", "/commerce/orders/{orderId}", "Order", True),
        ("GET", "/commerce/orders/{orderId}/items/{orderItemId}", "OrderItem", True),
        ("GET", "/commerce/orders/{orderId}/data", None, True),
        ("GET", "/commerce/orders/{orderId}/status", None, True),
    ]
    op = SPEC.operations()[0]
    assert isinstance(op, Operation)
    assert (op.method, op.path, op.schema, op.response_fields) == tuple(op)


@pytest.mark.parametrize(
    ("method", "path", "expected"),
    [
        # With and without the servers' base path, any case, a query, a trailing slash.
        ("GET", "/api/commerce/orders", ("GET", "/commerce/orders")),
        ("get", "/commerce/orders", ("GET", "/commerce/orders")),
        ("Get", "/API/Commerce/ORDERS/?startIndex=0", ("GET", "/commerce/orders")),
        ("GET", "/api/commerce/orders/123", ("GET", "/commerce/orders/{orderId}")),
        (
            "GET",
            "/commerce/orders/123/items/9",
            ("GET", "/commerce/orders/{orderId}/items/{orderItemId}"),
        ),
        ("GET", "/api/commerce/orders/data/data", ("GET", "/commerce/orders/{orderId}/data")),
        # A literal segment wins over a parameter, the leftmost difference deciding.
        ("GET", "/commerce/carts/current", ("GET", "/commerce/carts/current")),
        ("GET", "/commerce/carts/CURRENT/summary", ("GET", "/commerce/carts/current/summary")),
        ("GET", "/commerce/carts/c1", ("GET", "/commerce/carts/{cartId}")),
        (
            "GET",
            "/commerce/carts/current/items/7",
            ("GET", "/commerce/carts/{cartId}/items/{cartItemId}"),
        ),
        (
            "GET",
            "/commerce/catalog/storefront/categories/tree",
            ("GET", "/commerce/catalog/storefront/categories/tree"),
        ),
        (
            "GET",
            "/commerce/catalog/storefront/categories/12",
            ("GET", "/commerce/catalog/storefront/categories/{categoryId}"),
        ),
        # The method decides among the templates that match.
        ("DELETE", "/api/commerce/carts/current", ("DELETE", "/commerce/carts/{cartId}")),
        ("POST", "/commerce/customer/authtickets", ("POST", "/commerce/customer/authtickets")),
        ("HEAD", "/commerce/orders", ("GET", "/commerce/orders")),
        ("GET", "/platform/tenants/1", ("GET", "/platform/tenants/{tenantId}")),
        # No match.
        ("POST", "/commerce/orders", None),
        ("GET", "/commerce/orders/1/items", None),
        ("GET", "/commerce/orders//data", None),
        ("GET", "/api", None),
        ("GET", "/apix/commerce/orders", None),
        ("GET", "/api/api/commerce/orders", None),
        ("GET", "", None),
        ("GET", "/" + "x/" * 10000, None),
    ],
)
def test_match_finds_the_operation_of_a_request_path(
    method: str, path: str, expected: tuple[str, str] | None
) -> None:
    found = SPEC.match(method, path)
    assert (found if found is None else (found.method, found.path)) == expected


def test_match_reports_whether_the_operation_takes_response_fields() -> None:
    assert SPEC.match("GET", "/api/commerce/orders") == Operation(
        "GET", "/commerce/orders", "OrderCollection", True
    )
    assert SPEC.match("GET", "/api/platform/tenants/1") == Operation(
        "GET", "/platform/tenants/{tenantId}", "Tenant", False
    )
    assert SPEC.match("DELETE", "/commerce/customer/accounts/1") == Operation(
        "DELETE", "/commerce/customer/accounts/{accountId}", None, False
    )


def test_segment_patterns_server_paths_and_shared_definitions() -> None:
    ok = {"200": {"content": {"application/json": {"schema": {"type": "string"}}}}}
    parameter = {"$ref": "#/components/parameters/responseFields"}
    spec = OpenAPI.load(
        {
            "openapi": "3.1.0",
            "servers": [
                {"url": "/v{major}/", "variables": {"major": {"default": "2"}}},
                {"url": "https://example.test/"},
                {"url": "https://example.test/v2/shop"},
            ],
            "paths": {
                "/files/{name}.json": {"get": {"responses": ok}},
                "/files/index.json": {"get": {"responses": ok}},
                "/files/{name}": {"parameters": [parameter], "get": {"responses": ok}},
                "/files/{a}-{b}.tar.gz": {"get": {"responses": ok}},
                "/files/{same}": {"get": {"parameters": [parameter], "responses": ok}},
                "/": {"get": {"responses": ok}},
            },
            "components": {
                "parameters": {"responseFields": {"name": "responseFields", "in": "query"}},
            },
        }
    )

    def template(path: str) -> str | None:
        found = spec.match("GET", path)
        return None if found is None else found.path

    assert template("/files/index.json") == "/files/index.json"
    assert template("/v2/files/report.JSON") == "/files/{name}.json"
    assert template("/v2/shop/files/report") == "/files/{name}"
    assert template("/files/x-1.tar.gz") == "/files/{a}-{b}.tar.gz"
    assert template("/files/.json") == "/files/{name}"  # a parameter is never empty
    assert template("/") == template("/v2") == "/"
    # The second template that differs only in parameter names is listed, the first answers.
    assert [op.path for op in spec.operations()] == ["/files/{name}", "/files/{same}"]


def test_response_schemas_by_template_or_request_path() -> None:
    assert SPEC.response_schema("GET", "/commerce/orders") is SPEC.schema("OrderCollection")
    assert SPEC.response_schema("get", "/api/commerce/orders/1") is SPEC.schema("Order")
    category: Any = SPEC.schema("Category")
    tree = SPEC.response_schema("GET", "/commerce/catalog/storefront/categories/tree")
    assert tree == tuple[category, ...]
    assert SPEC.response_schema("GET", "/commerce/orders/{orderId}/data") == dict[str, Any]
    assert SPEC.response_schema("GET", "/commerce/orders/{orderId}/status") is str
    with pytest.raises(OpenAPILookupError) as caught:
        SPEC.response_schema("DELETE", "/commerce/carts/{cartId}")
    assert str(caught.value) == "DELETE /commerce/carts/{cartId} has no JSON response body"
    with pytest.raises(OpenAPILookupError) as caught:
        SPEC.response_schema("GET", "/commerce/order")
    assert str(caught.value) == (
        "no route 'GET /commerce/order' in the document: did you mean 'GET /commerce/orders', "
        "'GET /commerce/orders/{orderId}' or 'GET /commerce/orders/{orderId}/data'?"
    )
    assert caught.value.suggestions[0] == "GET /commerce/orders"


def test_response_schemas_follow_shared_responses_and_prefer_json() -> None:
    inline = {
        "type": "object",
        "properties": {"total": {"type": "integer"}, "when": {"type": "string"}},
    }
    spec = OpenAPI.load(
        {
            "openapi": "3.0.3",
            "paths": {
                "/a": {"get": {"responses": {"200": {"$ref": "#/components/responses/A"}}}},
                "/b": {
                    "get": {
                        "responses": {
                            "404": {"content": {"application/json": {"schema": {}}}},
                            "201": {
                                "content": {
                                    "application/xml": {"schema": {"type": "integer"}},
                                    "application/hal+json; charset=utf-8": {"schema": inline},
                                }
                            },
                        }
                    }
                },
            },
            "components": {
                "responses": {
                    "A": {"content": {"*/*": {"schema": {"type": "boolean"}}}},
                }
            },
        }
    )
    assert spec.response_schema("GET", "/a") is bool
    b = spec.response_schema("GET", "/b")
    assert b.__name__ == "Get_bResponse"
    assert fields(b) == {"total": int | UnsetType, "when": str | UnsetType}
    assert spec.response_schema("GET", "/b") is b
    assert spec.match("GET", "/b") == Operation("GET", "/b", None, False)


# -- laziness and caching -------------------------------------------------------------------------


def test_nothing_is_built_at_load_and_each_schema_once() -> None:
    spec = fresh()
    assert spec.built_schemas == ()
    spec.operations()
    spec.match("GET", "/commerce/orders/1")
    assert spec.built_schemas == ()  # routes name schemas, they do not build them
    ticket = spec.schema("CustomerAuthTicket")
    built: set[str] = set(spec.built_schemas)
    assert built == {
        "CustomerAuthTicket",
        "CustomerAccount",
        "CustomerAttribute",
        "AdminUserAuditInfo",
        "CommerceSummary",
        "CurrencyAmount",
        "CustomerContact",
        "CommerceRuntimeAddress",
        "CommerceRuntimePhone",
        "ContactType",
        "CustomerNote",
        "CustomerSegment",
    }
    assert spec.schema("CustomerAuthTicket") is ticket
    assert spec.schema("CustomerAccount") is struct_in(fields(ticket)["customerAccount"])
    assert set(spec.built_schemas) == built
    spec.schema("Category")
    assert spec.built_schemas[len(built) :] == ("Category", "CategoryContent", "CategoryImage")
    # Another document object builds its own types.
    assert fresh().schema("CustomerAuthTicket") is not ticket


def test_concurrent_first_requests_share_one_type() -> None:
    spec = fresh()
    results: list[Any] = []
    barrier = threading.Barrier(4)

    def build() -> None:
        barrier.wait()
        results.append(spec.schema("OrderCollection"))

    threads = [threading.Thread(target=build) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 4
    assert all(result is results[0] for result in results)
    assert spec.built_schemas.count("Order") == 1


# -- robustness -----------------------------------------------------------------------------------

SCHEMA_NAMES = ["A", "B", "C"]
REFS = st.sampled_from(
    [
        *(f"#/components/schemas/{name}" for name in SCHEMA_NAMES),
        "#/components/schemas/Missing",
        "#/components/schemas/A/properties/x",
        "#/components/schemas/B/items",
        "#/nowhere",
        "other.json#/X",
        "#",
    ]
)
KIND = st.sampled_from(
    ["object", "array", "string", "integer", "number", "boolean", "null", "bogus"]
)
SCALARS = st.none() | st.booleans() | st.integers() | st.text(max_size=3)


def schema_like(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.fixed_dictionaries(
        {},
        optional={
            "type": KIND | st.lists(KIND, max_size=3) | SCALARS,
            "nullable": st.booleans() | SCALARS,
            "format": st.sampled_from(["date-time", "int32", ""]),
            "enum": st.lists(SCALARS, max_size=2),
            "properties": st.dictionaries(
                st.sampled_from(["x", "from", "a-b", "a_b", "", "__x__"]), children, max_size=3
            )
            | SCALARS,
            "items": children,
            "additionalProperties": st.booleans() | children,
            "allOf": st.lists(children, max_size=2) | SCALARS,
            "oneOf": st.lists(children, max_size=2),
            "$ref": REFS | SCALARS,
        },
    )


SCHEMA_LIKE: st.SearchStrategy[Any] = st.recursive(
    st.builds(dict) | SCALARS | st.builds(dict, **{"$ref": REFS}), schema_like, max_leaves=12
)


@given(st.fixed_dictionaries(dict.fromkeys(SCHEMA_NAMES, SCHEMA_LIKE)))
def test_any_schema_either_builds_a_type_or_raises_the_librarys_error(
    schemas: dict[str, Any],
) -> None:
    spec = OpenAPI.load(minimal(schemas))
    for name in [*SCHEMA_NAMES, "Missing"]:
        try:
            built = spec.schema(name)
        except OpenAPIError:
            continue
        decoded = msgspec.json.decode(b"{}", type=built)
        assert msgspec.json.encode(decoded) == b"{}"
        msgspec.json.Decoder(projection.parse("*(*(*))", schema=built).typed())
        # Strict, "*" names nothing below a level of primitives only, such as {"x": "a string"}.
        with contextlib.suppress(projection.UnknownFieldError):
            projection.parse("*(*(*))", schema=built, strict=True)


# -- projections of generated documents -----------------------------------------------------------

KEYS = ["self", "Key", "b"]
JSON_LEAF = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=5)
)
ANY_JSON = st.recursive(
    JSON_LEAF,
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=3), children, max_size=3)
    ),
    max_leaves=6,
)
DATE_TIMES = st.datetimes(
    min_value=datetime.datetime(1, 1, 1), timezones=st.sampled_from([None, datetime.UTC])
).map(datetime.datetime.isoformat)
MAX_DEPTH = 4


def resolve(schema: Any) -> Any:
    while "$ref" in schema:
        schema = SCHEMAS[schema["$ref"].rsplit("/", 1)[1]]
    return schema


def merged_properties(schema: Any) -> dict[str, Any]:
    properties: dict[str, Any] = {}
    for part in schema.get("allOf", []):
        properties.update(merged_properties(resolve(part)))
    properties.update(schema.get("properties", {}))
    return properties


@st.composite
def conforming(draw: st.DrawFn, schema: Any, depth: int = 0, field: bool = False) -> Any:
    """A JSON value that the document's ``schema`` allows (no field is required), with unknown
    keys now and then; ``null`` also for a field that is a bare reference to an object, as
    Kibo sends it."""
    bare_reference = field and "$ref" in schema
    schema = resolve(schema)
    is_object = "properties" in schema or "allOf" in schema or schema.get("type") == "object"
    nullable = schema.get("nullable") or (bare_reference and is_object)
    if nullable and draw(st.integers(0, 4)) == 0:
        return None
    if not schema or "oneOf" in schema:
        return draw(ANY_JSON)
    if "allOf" in schema and not merged_properties(schema):
        return draw(conforming(schema["allOf"][0], depth))
    kind = schema.get("type", "object")
    if "enum" in schema:
        # Kibo's enums are sometimes incomplete: a value they omit must decode too.
        other = st.text(max_size=5) if kind == "string" else st.integers(-5, 5)
        return draw(st.sampled_from(schema["enum"]) | other)
    if kind == "string":
        return draw(DATE_TIMES if schema.get("format") == "date-time" else st.text(max_size=5))
    if kind in ALLOWED:
        return draw(ALLOWED[kind])
    if kind == "array":
        size = draw(st.integers(0, 2 if depth < MAX_DEPTH else 0))
        return [draw(conforming(schema["items"], depth + 1)) for _ in range(size)]
    return draw(conforming_object(schema, depth))


# What a schema of each of these types allows.
ALLOWED: dict[str, st.SearchStrategy[Any]] = {
    "integer": st.integers(min_value=-(2**63), max_value=2**63 - 1),
    "number": st.floats(allow_nan=False, allow_infinity=False) | st.integers(-9, 9),
    "boolean": st.booleans(),
}


@st.composite
def conforming_object(draw: st.DrawFn, schema: Any, depth: int) -> dict[str, Any]:
    """An object that ``schema`` allows: some of its properties and now and then unknown keys,
    or some keys of its ``additionalProperties``, or with neither, any keys."""
    properties = merged_properties(schema)
    values = schema.get("additionalProperties")
    value: dict[str, Any] = {}
    if properties:
        if depth < MAX_DEPTH:
            for name, child in properties.items():
                if draw(st.integers(0, 3)) > 0:
                    value[name] = draw(conforming(child, depth + 1, field=True))
        if draw(st.integers(0, 3)) == 0:
            extra = st.dictionaries(st.sampled_from(["zz", "Extra"]), ANY_JSON, max_size=2)
            value.update(draw(extra))
    elif isinstance(values, dict) and values:
        if depth < MAX_DEPTH:
            for key in draw(st.lists(st.sampled_from(KEYS) | st.text(max_size=3), max_size=3)):
                value[key] = draw(conforming(values, depth + 1))
    else:
        value = draw(st.dictionaries(st.sampled_from(KEYS), ANY_JSON, max_size=3))
    return value


def unwrap(annotation: Any) -> tuple[str, Any]:
    """What names reach below a field: ``("struct", S)``, ``("map", V)``, ``("any", None)``, or
    ``("leaf", None)``."""
    if annotation is Any:
        return "any", None
    if isinstance(annotation, type) and issubclass(annotation, msgspec.Struct):
        return "struct", annotation
    origin = typing.get_origin(annotation)
    if origin is dict:
        return "map", typing.get_args(annotation)[1]
    if origin is tuple:
        return unwrap(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        for argument in typing.get_args(annotation):
            kind, target = unwrap(argument)
            if kind != "leaf":
                return kind, target
    return "leaf", None


def names_below(annotation: Any) -> list[tuple[str, Any]]:
    kind, target = unwrap(annotation)
    if kind == "struct":
        return list(fields(target).items())
    if kind == "map":
        return [(key, target) for key in KEYS]
    if kind == "any":
        return [(key, Any) for key in KEYS]
    return []


@st.composite
def selection(draw: st.DrawFn, annotation: Any, depth: int = 0) -> str:
    """A selection over the names below ``annotation``: fields (in any case) of a Struct, keys of
    a mapping or of an untyped value; grouped, excluded, with ``*`` now and then."""
    names = names_below(annotation)
    is_struct = unwrap(annotation)[0] == "struct"
    items = []
    for name, child in draw(st.permutations(names))[: draw(st.integers(1, 3))]:
        written = draw(st.sampled_from([name, name.upper()])) if is_struct else name
        if not written or not written.isidentifier():
            written = "`" + written.replace("`", "``") + "`"
        below = names_below(child)
        choice = draw(st.sampled_from(["bare", "group", "exclude", "path"]))
        if choice == "group" and below and depth < 3:
            items.append(f"{written}({draw(selection(child, depth + 1))})")
        elif choice == "path" and below and depth < 3:
            items.append(f"-{written}/{draw(st.sampled_from(below))[0]}")
        elif choice == "exclude":
            items.append(f"-{written}")
        else:
            items.append(written)
    star = draw(st.sampled_from(["", "", "*", "group"]))
    children = [child for _, child in names if names_below(child)]
    if star == "*":
        items.append("*")
    elif star == "group" and children and depth < 3:
        items.append(f"*({draw(selection(draw(st.sampled_from(children)), depth + 1))})")
    return ",".join(items)


ROOTS = ["CustomerAuthTicket", "OrderCollection", "Order", "CategoryCollection", "Cart"]


@st.composite
def documents_and_projections(draw: st.DrawFn) -> tuple[str, Any, projection.Projection]:
    name = draw(st.sampled_from(ROOTS))
    struct = SPEC.schema(name)
    document = draw(conforming(SCHEMAS[name]))
    text = draw(selection(struct))
    strict = draw(st.booleans())
    if not strict and draw(st.booleans()):
        text += ",unknownField(x)"
    return name, document, projection.parse(text, schema=struct, strict=strict)


@given(documents_and_projections())
def test_typed_decoding_of_the_projection_equals_projecting_the_decoded_document(
    case: tuple[str, Any, projection.Projection],
) -> None:
    name, document, parsed = case
    data = msgspec.json.encode(document)
    full = msgspec.json.decode(data, type=SPEC.schema(name))
    typed = parsed.typed()
    from_bytes = msgspec.json.decode(parsed.project(data), type=typed)
    assert plain(from_bytes) == parsed.apply(plain(full))
    # Key order too: the typed object re-encodes to the projection of the decoded document.
    assert msgspec.json.encode(from_bytes) == parsed.project(msgspec.json.encode(full))
