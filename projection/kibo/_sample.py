"""Realistic, deterministic CustomerAuthTicket samples for tests, benchmarks and the mock server.

The same ``seed`` always gives the same tickets and the same bytes: all randomness comes from a
``random.Random`` seeded per call, never from the global generator or the clock.
"""

import base64
import datetime
import random
import unicodedata
from collections.abc import Callable, Iterator
from typing import Literal, NamedTuple

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


class _Place(NamedTuple):
    city: str
    state: str
    postal: str  # "#" is a digit, "@" an upper-case letter


class _Country(NamedTuple):
    code: str
    weight: int
    locale: str
    currency: str
    phone: str
    first_names: tuple[str, ...]
    last_names: tuple[str, ...]
    places: tuple[_Place, ...]
    streets: tuple[str, ...]
    street_format: str


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split(", "))


_COUNTRIES = (
    _Country(
        code="US",
        weight=50,
        locale="en-US",
        currency="USD",
        phone="(###) 555-0###",
        first_names=_words(
            "James, Mary, Olivia, Liam, Emma, Noah, Ava, Ethan, Sophia, Mason, Harper, Lucas, "
            "Chloé, Zoë, Wei, Aaliyah, Mateo"
        ),
        last_names=_words(
            "Smith, Johnson, Williams, Brown, Garcia, Miller, Davis, Rodriguez, Martinez, Nguyen, "
            "O'Brien, Kowalski, Anderson, Thompson, 王"
        ),
        places=(
            _Place("New York", "NY", "100##"),
            _Place("Austin", "TX", "787##"),
            _Place("Seattle", "WA", "981##"),
            _Place("Chicago", "IL", "606##"),
            _Place("Denver", "CO", "802##"),
            _Place("Boston", "MA", "021##"),
            _Place("San Diego", "CA", "921##"),
            _Place("Atlanta", "GA", "303##"),
        ),
        streets=_words("Maple Ave, Oak St, Pine St, Cedar Ln, Elm St, Main St, Lakeview Dr"),
        street_format="{number} {street}",
    ),
    _Country(
        code="CA",
        weight=10,
        locale="fr-CA",
        currency="CAD",
        phone="(###) 555-0###",
        first_names=_words("Émilie, Jérôme, Gabrielle, Noah, Chloé, Félix, Olivia, Mathis"),
        last_names=_words("Tremblay, Gagnon, Roy, Côté, Bélanger, Lévesque, Smith, Chen"),
        places=(
            _Place("Toronto", "ON", "M#@ #@#"),
            _Place("Montréal", "QC", "H#@ #@#"),
            _Place("Vancouver", "BC", "V#@ #@#"),
            _Place("Québec", "QC", "G#@ #@#"),
        ),
        streets=_words("Rue Sainte-Catherine, Yonge St, Queen St W, Rue Saint-Denis, Bay St"),
        street_format="{number} {street}",
    ),
    _Country(
        code="GB",
        weight=10,
        locale="en-GB",
        currency="GBP",
        phone="+44 20 7946 0###",
        first_names=_words("Oliver, Amelia, George, Isla, Harry, Ava, Jack, Siân, Niamh"),
        last_names=_words("Smith, Jones, Taylor, Brown, Wilson, Evans, Davies, Ó Súilleabháin"),
        places=(
            _Place("London", "England", "SW# #@@"),
            _Place("Manchester", "England", "M## #@@"),
            _Place("Edinburgh", "Scotland", "EH# #@@"),
            _Place("Cardiff", "Wales", "CF## #@@"),
        ),
        streets=_words("High Street, Baker Street, Station Road, Church Lane, Victoria Road"),
        street_format="{number} {street}",
    ),
    _Country(
        code="DE",
        weight=8,
        locale="de-DE",
        currency="EUR",
        phone="+49 30 ########",
        first_names=_words("Jürgen, Lukas, Sophie, Björn, Jörg, Mia, Leon, Hannah, Uwe"),
        last_names=_words("Müller, Schröder, Weiß, Hoffmann, Groß, Schmidt, Köhler, Becker"),
        places=(
            _Place("Berlin", "BE", "10###"),
            _Place("München", "BY", "80###"),
            _Place("Köln", "NW", "50###"),
            _Place("Düsseldorf", "NW", "40###"),
        ),
        streets=_words("Hauptstraße, Schloßallee, Gartenweg, Bahnhofstraße, Lindenstraße"),
        street_format="{street} {number}",
    ),
    _Country(
        code="FR",
        weight=7,
        locale="fr-FR",
        currency="EUR",
        phone="+33 1 ## ## ## ##",
        first_names=_words("Léa, François, Hélène, Anaïs, Théo, Maël, Camille, Loïc"),
        last_names=_words("Dubois, Lefèvre, Moreau, Girard, Bonnet, Faure, Mercier, Rousseau"),
        places=(
            _Place("Paris", "IDF", "750##"),
            _Place("Lyon", "ARA", "6900#"),
            _Place("Marseille", "PAC", "130##"),
            _Place("Nantes", "PDL", "440##"),
        ),
        streets=_words(
            "rue de Rivoli, avenue des Champs-Élysées, boulevard Haussmann, rue Lafayette"
        ),
        street_format="{number} {street}",
    ),
    _Country(
        code="ES",
        weight=5,
        locale="es-ES",
        currency="EUR",
        phone="+34 91 ### ## ##",
        first_names=_words("José, Begoña, Iñigo, María, Lucía, Álvaro, Nuria, Sergio"),
        last_names=_words("Núñez, Peña, Muñoz, García, Ibáñez, Fernández, Castaño, López"),
        places=(
            _Place("Madrid", "MD", "280##"),
            _Place("Barcelona", "CT", "080##"),
            _Place("A Coruña", "GA", "150##"),
            _Place("Sevilla", "AN", "410##"),
        ),
        streets=_words("Calle de Alcalá, Avinguda Diagonal, Calle Mayor, Paseo de la Castellana"),
        street_format="{street} {number}",
    ),
    _Country(
        code="NO",
        weight=5,
        locale="nb-NO",
        currency="NOK",
        phone="+47 ## ## ## ##",
        first_names=_words("Søren, Ørjan, Åse, Kjersti, Sigrid, Håkon, Ingrid, Magnus"),
        last_names=_words("Løvås, Hansen, Bjørnstad, Sæther, Johansen, Økland, Berg, Dahl"),
        places=(
            _Place("Oslo", "Oslo", "0###"),
            _Place("Tromsø", "Troms", "9###"),
            _Place("Bergen", "Vestland", "5###"),
            _Place("Trondheim", "Trøndelag", "7###"),
        ),
        streets=_words("Karl Johans gate, Storgata, Bryggen, Løkkeveien, Strandgaten"),
        street_format="{street} {number}",
    ),
    _Country(
        code="JP",
        weight=5,
        locale="ja-JP",
        currency="JPY",
        phone="03-####-####",
        first_names=_words("太郎, 花子, 翔, 美咲, 健一, さくら, Yuki, Haruto"),
        last_names=_words("山田, 佐藤, 鈴木, 高橋, 田中, Watanabe, Ito, 中村"),
        places=(
            _Place("渋谷区", "東京都", "150-####"),
            _Place("Osaka", "Osaka", "530-####"),
            _Place("京都市", "京都府", "600-####"),
            _Place("Sapporo", "Hokkaido", "060-####"),
        ),
        streets=_words("神南1丁目, 道玄坂2丁目, 梅田3丁目, Minato-ku Roppongi 6-chome"),
        street_format="{street} {number}",
    ),
)
_COUNTRY_WEIGHTS = tuple(c.weight for c in _COUNTRIES)

_EMAIL_DOMAINS = _words(
    "gmail.com, yahoo.com, outlook.com, icloud.com, hotmail.com, proton.me, web.de, orange.fr, "
    "hotmail.co.uk, yahoo.co.jp, online.no, telefonica.net"
)
_ADDRESS2 = _words("Apt 4B, Suite 200, Unit 12, Floor 3, Apt 1107, Room 5, Bldg C")
_LABELS = _words("Home, Work, Mum's place, Cabin, Office, Gift address")
_COMPANIES = (
    "Acme Outdoor Supply",
    "Nordlys AS",
    "Müller & Söhne GmbH",
    "Café Lumière SARL",
    "Blue Harbor Logistics",
    "株式会社サクラ",
    "Pinecrest Hardware LLC",
    "Iberia Textil S.L.",
)
_CUSTOMER_SETS = ("default", "default", "default", "default", "outlet", "wholesale", "employees")
_NOTE_SENTENCES = (
    "Customer called about a delayed shipment.",
    "Prefers delivery after 5 pm on weekdays.",
    "Requested a refund for a damaged item; approved.",
    "VIP event invitation sent for the spring collection.",
    "Asked to be removed from SMS campaigns.",
    "Gift wrapping requested for all orders.",
    "Address verified by phone.",
    "Loyalty points adjusted after a price-match request.",
    "Returned two items in size M, exchanged for L.",
    "Client a demandé une facture en français.",
    "Kunde wünscht Lieferung an die Packstation.",
    "配送は午前中を希望。",
)


class _Segment(NamedTuple):
    id: int
    code: str
    name: str
    description: str | None


_SEGMENTS = (
    _Segment(1, "VIP", "VIP customers", "Top 2% of customers by annual spend."),
    _Segment(2, "NEWSLETTER", "Newsletter subscribers", "Opted in to the weekly email."),
    _Segment(3, "LAPSED", "Lapsed buyers", "No order in the last 12 months."),
    _Segment(4, "EMPLOYEE", "Employees", None),
    _Segment(5, "WHOLESALE", "Wholesale accounts", "Net-30 terms; tax exempt where certified."),
    _Segment(6, "FIRST_ORDER", "First-time buyers", None),
    _Segment(7, "HIGH_RETURNS", "High return rate", "Return rate above 35% over 6 months."),
    _Segment(8, "LOYALTY_GOLD", "Loyalty Gold", "Gold tier in the rewards programme."),
)

_JSON = str | int | float | bool


def _tier(rng: random.Random) -> list[_JSON]:
    return [rng.choice(("Bronze", "Silver", "Gold", "Platinum"))]


def _points(rng: random.Random) -> list[_JSON]:
    return [rng.randrange(0, 250_000)]


def _flag(rng: random.Random) -> list[_JSON]:
    return [rng.random() < 0.5]


def _store(rng: random.Random) -> list[_JSON]:
    return [f"STORE-{rng.randrange(1, 900):04d}"]


def _shoe_size(rng: random.Random) -> list[_JSON]:
    return [rng.randrange(72, 96) / 2]


def _categories(rng: random.Random) -> list[_JSON]:
    names = ("Outdoor", "Footwear", "Kitchen", "Kids", "Électronique", "Garden", "Sale", "Books")
    return list(rng.sample(names, rng.randint(1, 3)))


def _birth_year(rng: random.Random) -> list[_JSON]:
    return [rng.randrange(1940, 2007)]


def _credit_limit(rng: random.Random) -> list[_JSON]:
    return [round(rng.uniform(500, 25_000), 2)]


def _survey(rng: random.Random) -> list[_JSON]:
    return [
        rng.choice(("email", "store", "social")),
        rng.randint(1, 10),
        rng.random() < 0.5,
        round(rng.uniform(1, 5), 1),
    ]


# (attributeDefinitionId, fullyQualifiedName, values) for a tenant's custom customer attributes.
_ATTRIBUTES: tuple[tuple[int, str, Callable[[random.Random], list[_JSON]]], ...] = (
    (2, "tenant~loyalty-tier", _tier),
    (3, "tenant~loyalty-points", _points),
    (4, "tenant~newsletter-opt-in", _flag),
    (5, "tenant~preferred-store", _store),
    (6, "tenant~shoe-size", _shoe_size),
    (7, "tenant~favourite-categories", _categories),
    (8, "tenant~birth-year", _birth_year),
    (9, "tenant~credit-limit", _credit_limit),
    (10, "tenant~survey-answers", _survey),
    (11, "tenant~sms-consent", _flag),
)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _access_token(rng: random.Random) -> str:
    # Opaque like Kibo's: 200 to 280 characters of standard base64.
    return base64.b64encode(rng.randbytes(rng.randint(150, 210))).decode("ascii")


def _ascii_slug(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return "".join(ch for ch in decomposed.lower() if ch.isalnum())


class _Generator:
    """One stream of tickets; every draw goes through ``self.rng`` so a seed fixes everything."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        # One tenant and site per stream, as in a real export.
        self.tenant = rng.randrange(10_000, 40_000)
        self.site = rng.randrange(40_000, 90_000)
        self.key_id = f"{rng.getrandbits(160):040x}"
        self.staff = tuple(f"{rng.getrandbits(128):032x}" for _ in range(4))

    def hex32(self) -> str:
        return f"{self.rng.getrandbits(128):032x}"

    def fill(self, pattern: str) -> str:
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

    def between(self, start: datetime.datetime, end: datetime.datetime) -> datetime.datetime:
        span = int((end - start).total_seconds() * 1_000_000)
        return start + datetime.timedelta(microseconds=self.rng.randrange(max(span, 1)))

    def audit(
        self, start: datetime.datetime, end: datetime.datetime, owner: str | None
    ) -> AuditInfo:
        created = self.between(start, end)
        rng = self.rng
        return AuditInfo(
            createBy=owner if owner is not None and rng.random() < 0.7 else rng.choice(self.staff),
            createDate=created,
            updateBy=None if rng.random() < 0.15 else rng.choice((owner, *self.staff)),
            updateDate=self.between(created, end),
        )

    def email(self, first: str, last: str) -> str:
        rng = self.rng
        f, la = _ascii_slug(first), _ascii_slug(last)
        if not f or not la:
            local = f"user{rng.randrange(10_000, 10_000_000)}"
        else:
            local = rng.choice(
                (f"{f}.{la}", f"{f}{la}{rng.randrange(1, 99)}", f"{f[0]}.{la}", f"{la}.{f}")
            )
        return f"{local}@{rng.choice(_EMAIL_DOMAINS)}"

    def phones(self, country: _Country) -> Phone | msgspec.UnsetType | None:
        rng = self.rng
        roll = rng.random()
        if roll < 0.1:
            return None
        if roll < 0.2:
            return msgspec.UNSET
        numbers: dict[str, str | None] = {}
        for kind in ("home", "mobile", "work"):
            roll = rng.random()
            if roll < 0.5:
                numbers[kind] = self.fill(country.phone)
            elif roll < 0.8:
                numbers[kind] = None
        return Phone(**numbers)

    def address(self, country: _Country) -> Address:
        rng = self.rng
        place = rng.choice(country.places)
        street = country.street_format.format(
            number=rng.randrange(1, 9_999), street=rng.choice(country.streets)
        )
        has_line2 = rng.random() < 0.35
        return Address(
            address1=street,
            address2=rng.choice(_ADDRESS2) if has_line2 else None,
            address3="c/o Reception" if has_line2 and rng.random() < 0.1 else None,
            address4=None,
            addressType=rng.choice(("Residential", "Residential", "Commercial")),
            cityOrTown=place.city,
            countryCode=country.code,
            isValidated=rng.random() < 0.7,
            postalOrZipCode=self.fill(place.postal),
            stateOrProvince=place.state,
        )

    def contact(
        self,
        index: int,
        account_id: int,
        country: _Country,
        names: tuple[str, str],
        email: str | None,
        since: datetime.datetime,
        issued: datetime.datetime,
        owner: str,
    ) -> CustomerContact:
        rng = self.rng
        if index > 0 and rng.random() < 0.4:
            # A gift recipient or a relative, possibly living abroad.
            country = rng.choices(_COUNTRIES, _COUNTRY_WEIGHTS)[0]
            names = (rng.choice(country.first_names), rng.choice(country.last_names))
            email = None if rng.random() < 0.5 else self.email(*names)
        primary = index == 0
        types = [ContactType(isPrimary=primary, name="Billing")]
        if rng.random() < 0.6:
            types.append(ContactType(isPrimary=primary, name="Shipping"))
        middle = rng.random()
        return CustomerContact(
            accountId=account_id,
            address=self.address(country),
            auditInfo=self.audit(since, issued, owner),
            companyOrOrganization=rng.choice(_COMPANIES) if rng.random() < 0.1 else None,
            email=email,
            faxNumber=self.fill(country.phone) if rng.random() < 0.05 else None,
            firstName=names[0],
            id=rng.randrange(1, 5_000_000),
            label=rng.choice(_LABELS) if rng.random() < 0.4 else None,
            lastNameOrSurname=names[1],
            middleNameOrInitial=(
                None if middle < 0.7 else f"{chr(65 + rng.randrange(26))}." if middle < 0.9 else ""
            ),
            phoneNumbers=self.phones(country),
            types=tuple(types),
        )

    def jwt(self, account_id: int, user_id: str, anonymous: bool, issued: int) -> str:
        rng = self.rng
        header = {"alg": "RS256", "kid": self.key_id, "typ": "JWT"}
        claims = {
            "https://www.kibocommerce.com/app_claims": {
                "ssl": "1",
                "ept": issued + 3600,
                "buid": self.hex32(),
                "tid": str(self.tenant),
                "siid": str(self.site),
                "bsid": "0",
                "ano": str(anonymous),
            },
            "https://www.kibocommerce.com/user_claims": {
                "aid": account_id,
                "uid": user_id,
                "anon": anonymous,
            },
            "iss": "https://www.kibocommerce.com",
            "aud": f"https://t{self.tenant}-s{self.site}.sandbox.mozu.com",
            "iat": issued,
            "nbf": issued,
            "exp": issued + 3600,
        }
        return ".".join(
            (
                _b64url(_ENCODER.encode(header)),
                _b64url(_ENCODER.encode(claims)),
                _b64url(rng.randbytes(256)),
            )
        )

    def ticket(
        self, *, issued: datetime.datetime | None = None, anonymous: bool | None = None
    ) -> CustomerAuthTicket:
        rng = self.rng
        # Given arguments skip their draws; left out, the draws (and so the samples) are as ever.
        if issued is None:
            issued = self.between(_ISSUED_START, _ISSUED_END)
        since = self.between(_EPOCH_START, issued - datetime.timedelta(days=1))
        if anonymous is None:
            anonymous = rng.random() < 1 / 3
        country = rng.choices(_COUNTRIES, _COUNTRY_WEIGHTS)[0]
        account_id = rng.randrange(1_000, 10_000_000)
        user_id = self.hex32()

        first: str | None = None
        last: str | None = None
        email: str | None = None
        contacts: tuple[CustomerContact, ...] = ()
        notes: tuple[CustomerNote, ...] = ()
        segments: tuple[CustomerSegment, ...] = ()
        # Shoppers who never signed in carry only what the storefront tracked about them.
        attribute_count = rng.randint(0, 2) if anonymous else rng.randint(0, 6)
        if not anonymous:
            first, last = rng.choice(country.first_names), rng.choice(country.last_names)
            email = self.email(first, last)
            contacts = tuple(
                self.contact(i, account_id, country, (first, last), email, since, issued, user_id)
                for i in range(rng.choices((0, 1, 2, 3, 4), (25, 35, 22, 12, 6))[0])
            )
            notes = tuple(
                CustomerNote(
                    auditInfo=self.audit(since, issued, None),
                    content=" ".join(rng.sample(_NOTE_SENTENCES, rng.randint(1, 2))),
                    id=rng.randrange(1, 1_000_000),
                )
                for _ in range(rng.choices((0, 1, 2, 3), (40, 30, 20, 10))[0])
            )
            segments = tuple(
                CustomerSegment(
                    auditInfo=self.audit(_EPOCH_START, issued, None),
                    code=s.code,
                    description=s.description,
                    id=s.id,
                    name=s.name,
                )
                for s in rng.sample(_SEGMENTS, rng.choices((0, 1, 2, 3), (40, 35, 17, 8))[0])
            )
        attributes = tuple(
            CustomerAttribute(
                attributeDefinitionId=definition_id,
                auditInfo=self.audit(since, issued, user_id),
                fullyQualifiedName=name,
                values=tuple(make(rng)),
            )
            for definition_id, name, make in rng.sample(_ATTRIBUTES, attribute_count)
        )

        orders = 0 if anonymous or rng.random() < 0.2 else rng.randint(1, 60)
        b2b = not anonymous and rng.random() < 0.1
        account = CustomerAccount(
            accountType="B2B" if b2b else "B2C",
            attributes=attributes,
            auditInfo=self.audit(since, issued, user_id),
            commerceSummary=CommerceSummary(
                lastOrderDate=self.between(since, issued) if orders else None,
                orderCount=orders,
                totalOrderAmount=CurrencyAmount(
                    amount=round(orders * rng.uniform(15, 180), 2),
                    currencyCode=country.currency,
                ),
                visitsCount=orders + rng.randrange(1, 300),
                wishlistCount=0 if anonymous else rng.randrange(0, 12),
            ),
            companyOrOrganization=rng.choice(_COMPANIES) if b2b else None,
            contacts=contacts,
            customerSet=rng.choice(_CUSTOMER_SETS),
            customerSinceDate=since,
            externalId=f"CRM-{rng.randrange(10**7):07d}" if rng.random() < 0.2 else None,
            id=account_id,
            migrationRequired=rng.random() < 0.03,
            notes=notes,
            segments=segments,
            taxExempt=b2b and rng.random() < 0.5,
            taxId=self.fill(f"{country.code}#########") if b2b else None,
            acceptsMarketing=not anonymous and rng.random() < 0.45,
            emailAddress=email,
            firstName=first,
            hasExternalPassword=rng.random() < 0.05,
            isActive=rng.random() < 0.97,
            isAnonymous=anonymous,
            isLocked=rng.random() < 0.02,
            last2FaDate=(
                self.between(since, issued) if not anonymous and rng.random() < 0.2 else None
            ),
            lastName=last,
            localeCode=country.locale,
            userId=user_id,
            userName=email if email is None or rng.random() < 0.8 else email.split("@")[0],
        )
        return CustomerAuthTicket(
            accessToken=_access_token(rng),
            accessTokenExpiration=issued + datetime.timedelta(hours=1),
            customerAccount=account,
            jwtAccessToken=self.jwt(account_id, user_id, anonymous, int(issued.timestamp())),
            refreshToken=self.hex32(),
            refreshTokenExpiration=issued + datetime.timedelta(days=30),
            requires2FA=rng.random() < 0.05,
            userId=user_id,
        )


def _check_count(n: int) -> None:
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")


def sample_authtickets(n: int, *, seed: int = 0) -> list[CustomerAuthTicket]:
    """``n`` varied tickets, about 4 KB each encoded; ``sample_authtickets(k)`` is a prefix of
    ``sample_authtickets(n)`` for ``k <= n`` with the same seed."""
    _check_count(n)
    generator = _Generator(random.Random(seed))
    return [generator.ticket() for _ in range(n)]


def anonymous_authtickets(
    *, seed: int = 0, clock: Callable[[], datetime.datetime] | None = None
) -> Iterator[CustomerAuthTicket]:
    """Endless fresh tickets for anonymous shoppers, as the sign-in endpoint issues them.

    Each is issued at ``clock()`` (default: now, UTC), so its tokens expire in the future, and
    carries new tokens and a new account id. A seed and a clock fix the sequence; with the real
    clock the times differ per run, and so may the draws that depend on them (dates, tokens).
    """
    generator = _Generator(random.Random(f"anonymous:{seed}"))
    now = clock or (lambda: datetime.datetime.now(_UTC))
    while True:
        yield generator.ticket(issued=now(), anonymous=True)


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
