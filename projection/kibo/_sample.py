"""Realistic, deterministic CustomerAuthTicket samples for tests, benchmarks and the mock server.

One table, ``_FIELDS``, draws every field of every model, keyed by the model and the field's name;
names that are not fields draw facts that several fields share (a shopper's country). The same
``seed`` always gives the same tickets and the same bytes: every draw comes from one seeded
``random.Random``, never from the global generator or the clock.
"""

import base64
import datetime
import random
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, Literal, TypeVar

import msgspec

from projection.kibo._models import (
    Address,
    AuditInfo,
    CommerceSummary,
    ContactType,
    CurrencyAmount,
    CustomerAccount,
    CustomerAttribute,
    CustomerAuthTicket,
    CustomerContact,
    CustomerNote,
    CustomerSegment,
    Phone,
)

_ENCODER = msgspec.json.Encoder()

_UTC = datetime.UTC
_EPOCH_START = datetime.datetime(2015, 1, 1, tzinfo=_UTC)
_ISSUED_START = datetime.datetime(2024, 1, 1, tzinfo=_UTC)
_ISSUED_END = datetime.datetime(2025, 6, 30, tzinfo=_UTC)

# Distinct tickets built once by iter_sample_lines; enough that lines a pool apart rarely meet in
# one compression window or cache line, few enough to build in well under a second.
_LINE_POOL = 256

_T = TypeVar("_T")
_M = TypeVar("_M", bound=msgspec.Struct)


# -- the words samples are made of (_words.json) -------------------------------------------------


class _Place(msgspec.Struct, frozen=True, array_like=True):
    city: str
    state: str
    postal: str  # "#" is a digit, "@" an upper-case letter


class _Country(msgspec.Struct, frozen=True):
    code: str
    weight: int
    locale: str
    currency: str
    phone: str
    street_format: str
    first_names: tuple[str, ...]
    last_names: tuple[str, ...]
    places: tuple[_Place, ...]
    streets: tuple[str, ...]


class _Segment(msgspec.Struct, frozen=True, array_like=True):
    id: int
    code: str
    name: str
    description: str | None


class _Words(msgspec.Struct, frozen=True):
    countries: tuple[_Country, ...]
    email_domains: tuple[str, ...]
    address_lines: tuple[str, ...]
    labels: tuple[str, ...]
    companies: tuple[str, ...]
    customer_sets: tuple[str, ...]
    note_sentences: tuple[str, ...]
    # Drawn by the documents of other Kibo schemas (``_documents``), not by tickets.
    products: tuple[str, ...]
    property_keys: tuple[str, ...]
    segments: tuple[_Segment, ...]


_WORDS = msgspec.json.decode(Path(__file__).with_name("_words.json").read_bytes(), type=_Words)
_COUNTRY_WEIGHTS = tuple(country.weight for country in _WORDS.countries)

_JSON = str | int | float | bool
_CATEGORIES = ("Outdoor", "Footwear", "Kitchen", "Kids", "Électronique", "Garden", "Sale", "Books")

# A tenant's custom customer attributes: (attributeDefinitionId, fullyQualifiedName, values).
_ATTRIBUTES: tuple[tuple[int, str, Callable[[random.Random], list[_JSON]]], ...] = (
    (2, "tenant~loyalty-tier", lambda r: [r.choice(("Bronze", "Silver", "Gold", "Platinum"))]),
    (3, "tenant~loyalty-points", lambda r: [r.randrange(0, 250_000)]),
    (4, "tenant~newsletter-opt-in", lambda r: [r.random() < 0.5]),
    (5, "tenant~preferred-store", lambda r: [f"STORE-{r.randrange(1, 900):04d}"]),
    (6, "tenant~shoe-size", lambda r: [r.randrange(72, 96) / 2]),
    (7, "tenant~favourite-categories", lambda r: r.sample(_CATEGORIES, r.randint(1, 3))),
    (8, "tenant~birth-year", lambda r: [r.randrange(1940, 2007)]),
    (9, "tenant~credit-limit", lambda r: [round(r.uniform(500, 25_000), 2)]),
    (
        10,
        "tenant~survey-answers",
        lambda r: [
            r.choice(("email", "store", "social")),
            r.randint(1, 10),
            r.random() < 0.5,
            round(r.uniform(1, 5), 1),
        ],
    ),
    (11, "tenant~sms-consent", lambda r: [r.random() < 0.5]),
)


# -- drawing -------------------------------------------------------------------------------------


class _Stream:
    """One stream of tickets: its random generator, and the tenant and site they all belong to."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        # One tenant and site per stream, as in a real export.
        self.tenant = rng.randrange(10_000, 40_000)
        self.site = rng.randrange(40_000, 90_000)
        self.key_id = f"{rng.getrandbits(160):040x}"
        self.staff = tuple(f"{rng.getrandbits(128):032x}" for _ in range(4))

    def ticket(self, **facts: Any) -> CustomerAuthTicket:
        """The next ticket; ``facts`` (``issued``, ``anonymous``) are given, not drawn."""
        scope = _Scope()
        scope.rng, scope.stream = self.rng, self
        return scope.build(CustomerAuthTicket, **facts)


class _Scope(dict[str, Any]):
    """What a field is drawn from: the stream's generator, and the fields and facts drawn so far
    for the object being built and for the objects it is inside of (its own first).

    A dict, copied for each object: a field reads what it depends on at the speed of a dict.
    """

    __slots__ = ("rng", "stream")
    rng: random.Random
    stream: _Stream

    def build(self, model: type[_M], **facts: Any) -> _M:
        """A ``model`` with every field drawn by its entry in ``_FIELDS``, in the table's order."""
        scope = _Scope(self)
        scope.update(facts)
        scope.rng, scope.stream = self.rng, self.stream
        for name, draw in _FIELDS[model].items():
            if name not in facts:
                scope[name] = draw(scope)
        return model(**{name: scope[name] for name in model.__struct_fields__})

    def audit(self, start: datetime.datetime, owner: str | None) -> AuditInfo:
        return self.build(AuditInfo, start=start, owner=owner)

    def chance(self, probability: float) -> bool:
        return self.rng.random() < probability

    def pick(self, options: Sequence[_T]) -> _T:
        return self.rng.choice(options)

    def between(self, start: datetime.datetime, end: datetime.datetime) -> datetime.datetime:
        span = int((end - start).total_seconds() * 1_000_000)
        return start + datetime.timedelta(microseconds=self.rng.randrange(max(span, 1)))

    def fill(self, pattern: str) -> str:
        """``pattern`` with each ``#`` a random digit and each ``@`` a random capital letter."""
        rng = self.rng
        out = []
        for ch in pattern:
            if ch == "#":
                out.append(str(rng.randrange(10)))
            elif ch == "@":
                out.append(chr(65 + rng.randrange(26)))
            else:
                out.append(ch)
        return "".join(out)

    def hex32(self) -> str:
        return f"{self.rng.getrandbits(128):032x}"

    def country(self) -> _Country:
        return self.rng.choices(_WORDS.countries, _COUNTRY_WEIGHTS)[0]

    def email(self, first: str, last: str) -> str:
        f, la = _ascii_slug(first), _ascii_slug(last)
        if not f or not la:
            local = f"user{self.rng.randrange(10_000, 10_000_000)}"
        else:
            number = self.rng.randrange(1, 99)
            local = self.pick((f"{f}.{la}", f"{f}{la}{number}", f"{f[0]}.{la}", f"{la}.{f}"))
        return f"{local}@{self.pick(_WORDS.email_domains)}"

    def count(self, weights: Sequence[int]) -> int:
        """How many of something: 0, 1, 2, ... with these weights."""
        return self.rng.choices(range(len(weights)), weights)[0]


def _ascii_slug(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return "".join(ch for ch in decomposed.lower() if ch.isalnum())


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _access_token(rng: random.Random) -> str:
    # Opaque like Kibo's: 200 to 280 characters of standard base64.
    return base64.b64encode(rng.randbytes(rng.randint(150, 210))).decode("ascii")


def _jwt(s: _Scope) -> str:
    stream, issued = s.stream, int(s["issued"].timestamp())
    header = {"alg": "RS256", "kid": stream.key_id, "typ": "JWT"}
    claims = {
        "https://www.kibocommerce.com/app_claims": {
            "ssl": "1",
            "ept": issued + 3600,
            "buid": s.hex32(),
            "tid": str(stream.tenant),
            "siid": str(stream.site),
            "bsid": "0",
            "ano": str(s["anonymous"]),
        },
        "https://www.kibocommerce.com/user_claims": {
            "aid": s["account_id"],
            "uid": s["user_id"],
            "anon": s["anonymous"],
        },
        "iss": "https://www.kibocommerce.com",
        "aud": f"https://t{stream.tenant}-s{stream.site}.sandbox.mozu.com",
        "iat": issued,
        "nbf": issued,
        "exp": issued + 3600,
    }
    signature = s.rng.randbytes(256)
    return ".".join(map(_b64url, (_ENCODER.encode(header), _ENCODER.encode(claims), signature)))


def _attributes(s: _Scope) -> tuple[CustomerAttribute, ...]:
    # Shoppers who never signed in carry only what the storefront tracked about them.
    count = s.rng.randint(0, 2) if s["anonymous"] else s.rng.randint(0, 6)
    definitions = s.rng.sample(_ATTRIBUTES, count)
    return tuple(s.build(CustomerAttribute, definition=d) for d in definitions)


def _contacts(s: _Scope) -> tuple[CustomerContact, ...]:
    # Shoppers who never signed in have none; nearly all who did have one or more.
    count = 0 if s["anonymous"] else s.count((5, 40, 30, 15, 10))
    return tuple(s.build(CustomerContact, index=index) for index in range(count))


def _notes(s: _Scope) -> tuple[CustomerNote, ...]:
    count = 0 if s["anonymous"] else s.count((40, 30, 20, 10))
    return tuple(s.build(CustomerNote) for _ in range(count))


def _segments(s: _Scope) -> tuple[CustomerSegment, ...]:
    count = 0 if s["anonymous"] else s.count((40, 35, 17, 8))
    segments = s.rng.sample(_WORDS.segments, count)
    return tuple(s.build(CustomerSegment, segment=segment) for segment in segments)


def _user_name(s: _Scope) -> str | None:
    email: str | None = s["email"]
    return email if email is None or s.chance(0.8) else email.split("@")[0]


def _contact_email(s: _Scope) -> str | None:
    email: str | None = s["email"]
    if s["abroad"]:
        email = None if s.chance(0.5) else s.email(s["first"], s["last"])
    return email


def _contact_types(s: _Scope) -> tuple[ContactType, ...]:
    kinds = ("Billing", "Shipping") if s.chance(0.6) else ("Billing",)
    return tuple(s.build(ContactType, kind=kind) for kind in kinds)


def _phones(s: _Scope) -> Phone | msgspec.UnsetType | None:
    roll = s.rng.random()
    return None if roll < 0.1 else msgspec.UNSET if roll < 0.2 else s.build(Phone)


def _phone_number(s: _Scope) -> str | msgspec.UnsetType | None:
    roll = s.rng.random()
    return s.fill(s["country"].phone) if roll < 0.5 else None if roll < 0.8 else msgspec.UNSET


def _middle_name(s: _Scope) -> str | None:
    roll = s.rng.random()
    return None if roll < 0.7 else f"{chr(65 + s.rng.randrange(26))}." if roll < 0.9 else ""


def _street(s: _Scope) -> str:
    country: _Country = s["country"]
    number, street = s.rng.randrange(1, 9_999), s.pick(country.streets)
    return country.street_format.format(number=number, street=street)


_Draw = Callable[[_Scope], Any]

# Every field of every model, keyed by the model and the field's name, with the facts its fields
# share (names that are not fields), drawn in this order. Facts given to ``build`` (``index=``,
# ``start=``) are not drawn. A contact's country, names and email stand over the shopper's: a
# gift recipient or a relative, possibly abroad.
_FIELDS: dict[type[msgspec.Struct], dict[str, _Draw]] = {
    CustomerAuthTicket: {
        "issued": lambda s: s.between(_ISSUED_START, _ISSUED_END),
        "since": lambda s: s.between(_EPOCH_START, s["issued"] - datetime.timedelta(days=1)),
        "anonymous": lambda s: s.chance(1 / 4),
        "country": lambda s: s.country(),
        "account_id": lambda s: s.rng.randrange(1_000, 10_000_000),
        "user_id": lambda s: s.hex32(),
        "first": lambda s: None if s["anonymous"] else s.pick(s["country"].first_names),
        "last": lambda s: None if s["anonymous"] else s.pick(s["country"].last_names),
        "email": lambda s: None if s["anonymous"] else s.email(s["first"], s["last"]),
        "orders": lambda s: 0 if s["anonymous"] or s.chance(0.2) else s.rng.randint(1, 60),
        "b2b": lambda s: not s["anonymous"] and s.chance(0.1),
        "accessToken": lambda s: _access_token(s.rng),
        "accessTokenExpiration": lambda s: s["issued"] + datetime.timedelta(hours=1),
        "customerAccount": lambda s: s.build(CustomerAccount),
        "jwtAccessToken": _jwt,
        "refreshToken": lambda s: s.hex32(),
        "refreshTokenExpiration": lambda s: s["issued"] + datetime.timedelta(days=30),
        "requires2FA": lambda s: s.chance(0.05),
        "userId": lambda s: s["user_id"],
    },
    CustomerAccount: {
        "accountType": lambda s: "B2B" if s["b2b"] else "B2C",
        "attributes": _attributes,
        "auditInfo": lambda s: s.audit(s["since"], s["user_id"]),
        "commerceSummary": lambda s: s.build(CommerceSummary),
        "companyOrOrganization": lambda s: s.pick(_WORDS.companies) if s["b2b"] else None,
        "contacts": _contacts,
        "customerSet": lambda s: s.pick(_WORDS.customer_sets),
        "customerSinceDate": lambda s: s["since"],
        "externalId": lambda s: f"CRM-{s.rng.randrange(10**7):07d}" if s.chance(0.2) else None,
        "id": lambda s: s["account_id"],
        "migrationRequired": lambda s: s.chance(0.03),
        "notes": _notes,
        "segments": _segments,
        "taxExempt": lambda s: s["b2b"] and s.chance(0.5),
        "taxId": lambda s: s.fill(f"{s['country'].code}#########") if s["b2b"] else None,
        "acceptsMarketing": lambda s: not s["anonymous"] and s.chance(0.45),
        "emailAddress": lambda s: s["email"],
        "firstName": lambda s: s["first"],
        "hasExternalPassword": lambda s: s.chance(0.05),
        "isActive": lambda s: s.chance(0.97),
        "isAnonymous": lambda s: s["anonymous"],
        "isLocked": lambda s: s.chance(0.02),
        "two_factor": lambda s: not s["anonymous"] and s.chance(0.2),
        "last2FaDate": lambda s: s.between(s["since"], s["issued"]) if s["two_factor"] else None,
        "lastName": lambda s: s["last"],
        "localeCode": lambda s: s["country"].locale,
        "userId": lambda s: s["user_id"],
        "userName": _user_name,
    },
    CustomerAttribute: {
        "attributeDefinitionId": lambda s: s["definition"][0],
        "auditInfo": lambda s: s.audit(s["since"], s["user_id"]),
        "fullyQualifiedName": lambda s: s["definition"][1],
        "values": lambda s: tuple(s["definition"][2](s.rng)),
    },
    AuditInfo: {
        "by_owner": lambda s: s["owner"] is not None and s.chance(0.7),
        "createBy": lambda s: s["owner"] if s["by_owner"] else s.pick(s.stream.staff),
        "createDate": lambda s: s.between(s["start"], s["issued"]),
        "updateBy": lambda s: None if s.chance(0.15) else s.pick((s["owner"], *s.stream.staff)),
        "updateDate": lambda s: s.between(s["createDate"], s["issued"]),
    },
    CommerceSummary: {
        "lastOrderDate": lambda s: s.between(s["since"], s["issued"]) if s["orders"] else None,
        "orderCount": lambda s: s["orders"],
        "totalOrderAmount": lambda s: s.build(CurrencyAmount),
        "visitsCount": lambda s: s["orders"] + s.rng.randrange(1, 300),
        "wishlistCount": lambda s: 0 if s["anonymous"] else s.rng.randrange(0, 12),
    },
    CurrencyAmount: {
        "amount": lambda s: round(s["orders"] * s.rng.uniform(15, 180), 2),
        "currencyCode": lambda s: s["country"].currency,
    },
    CustomerContact: {
        "abroad": lambda s: s["index"] > 0 and s.chance(0.4),
        "country": lambda s: s.country() if s["abroad"] else s["country"],
        "first": lambda s: s.pick(s["country"].first_names) if s["abroad"] else s["first"],
        "last": lambda s: s.pick(s["country"].last_names) if s["abroad"] else s["last"],
        "accountId": lambda s: s["account_id"],
        "address": lambda s: s.build(Address),
        "auditInfo": lambda s: s.audit(s["since"], s["user_id"]),
        "companyOrOrganization": lambda s: s.pick(_WORDS.companies) if s.chance(0.1) else None,
        "email": _contact_email,
        "faxNumber": lambda s: s.fill(s["country"].phone) if s.chance(0.05) else None,
        "firstName": lambda s: s["first"],
        "id": lambda s: s.rng.randrange(1, 5_000_000),
        "label": lambda s: s.pick(_WORDS.labels) if s.chance(0.4) else None,
        "lastNameOrSurname": lambda s: s["last"],
        "middleNameOrInitial": _middle_name,
        "phoneNumbers": _phones,
        "types": _contact_types,
    },
    ContactType: {
        "isPrimary": lambda s: s["index"] == 0,
        "name": lambda s: s["kind"],
    },
    Phone: {
        "home": _phone_number,
        "mobile": _phone_number,
        "work": _phone_number,
    },
    Address: {
        "place": lambda s: s.pick(s["country"].places),
        "second_line": lambda s: s.chance(0.35),
        "address1": _street,
        "address2": lambda s: s.pick(_WORDS.address_lines) if s["second_line"] else None,
        "address3": lambda s: "c/o Reception" if s["second_line"] and s.chance(0.1) else None,
        "address4": lambda s: None,
        "addressType": lambda s: s.pick(("Residential", "Residential", "Commercial")),
        "cityOrTown": lambda s: s["place"].city,
        "countryCode": lambda s: s["country"].code,
        "isValidated": lambda s: s.chance(0.7),
        "postalOrZipCode": lambda s: s.fill(s["place"].postal),
        "stateOrProvince": lambda s: s["place"].state,
    },
    CustomerNote: {
        "auditInfo": lambda s: s.audit(s["since"], None),
        "content": lambda s: " ".join(s.rng.sample(_WORDS.note_sentences, s.rng.randint(1, 2))),
        "id": lambda s: s.rng.randrange(1, 1_000_000),
    },
    CustomerSegment: {
        "auditInfo": lambda s: s.audit(_EPOCH_START, None),
        "code": lambda s: s["segment"].code,
        "description": lambda s: s["segment"].description,
        "id": lambda s: s["segment"].id,
        "name": lambda s: s["segment"].name,
    },
}


def _check_count(n: int) -> None:
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")


def sample_authtickets(n: int, *, seed: int = 0) -> list[CustomerAuthTicket]:
    """``n`` varied tickets, about 4 KB each encoded; ``sample_authtickets(k)`` is a prefix of
    ``sample_authtickets(n)`` for ``k <= n`` with the same seed."""
    _check_count(n)
    stream = _Stream(random.Random(seed))
    return [stream.ticket() for _ in range(n)]


def anonymous_authtickets(
    *, seed: int = 0, clock: Callable[[], datetime.datetime] | None = None
) -> Iterator[CustomerAuthTicket]:
    """Endless fresh tickets for anonymous shoppers, as the sign-in endpoint issues them.

    Each is issued at ``clock()`` (default: now, UTC), so its tokens expire in the future, and
    carries new tokens and a new account id. A seed and a clock fix the sequence; with the real
    clock the times differ per run, and so may the draws that depend on them (dates, tokens).
    """
    stream = _Stream(random.Random(f"anonymous:{seed}"))
    now = clock or (lambda: datetime.datetime.now(_UTC))
    while True:
        yield stream.ticket(issued=now(), anonymous=True)


def sample_bytes(n: int, *, seed: int = 0, format: Literal["json", "ndjson"] = "json") -> bytes:
    """``sample_authtickets(n, seed=seed)`` encoded as one JSON array, or as NDJSON: one compact
    ticket per line, each line ending in ``b"\\n"``."""
    tickets = sample_authtickets(n, seed=seed)
    if format == "json":
        return _ENCODER.encode(tickets)
    if format == "ndjson":
        return _ENCODER.encode_lines(tickets)
    raise ValueError(f"format must be 'json' or 'ndjson', got {format!r}")


def iter_sample_lines(n: int, *, seed: int = 0) -> Iterator[bytes]:
    """Yield ``n`` NDJSON lines lazily, in constant memory, fast enough for gigabytes.

    Trade-off: generating every ticket from scratch costs far more than encoding it, so a pool of
    up to 256 distinct tickets is built once and each line re-encodes one of them with fresh cheap
    fields: a unique account id (also in its contacts), a new user id, access and refresh token.
    Names, addresses and the JWT repeat every 256 lines, so the stream is less varied than
    ``sample_bytes(n, format="ndjson")``, which it does not equal. It is deterministic per seed,
    and the first ``k`` lines do not depend on ``n``.
    """
    _check_count(n)
    return _lines(n, seed)


def _lines(n: int, seed: int) -> Iterator[bytes]:
    pool = sample_authtickets(min(n, _LINE_POOL), seed=seed)
    # A separate stream, so the per-line fields do not replay the draws that built the pool.
    rng = random.Random(f"lines:{seed}")
    first_id = rng.randrange(1_000, 1_000_000)
    replace = msgspec.structs.replace
    encode = _ENCODER.encode
    for i in range(n):
        ticket = pool[i % len(pool)]
        account = ticket.customerAccount
        assert isinstance(account, CustomerAccount)
        account_id = first_id + i
        user_id = f"{rng.getrandbits(128):032x}"
        contacts = account.contacts
        if isinstance(contacts, tuple):
            contacts = tuple(replace(c, accountId=account_id) for c in contacts)
        account = replace(account, contacts=contacts, id=account_id, userId=user_id)
        line = replace(
            ticket,
            accessToken=_access_token(rng),
            customerAccount=account,
            refreshToken=f"{rng.getrandbits(128):032x}",
            userId=user_id,
        )
        yield encode(line) + b"\n"
