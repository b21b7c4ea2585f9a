"""msgspec models of Kibo Commerce's CustomerAuthTicket, field for field in schema order.

Attribute names are the camelCase JSON names. Every field defaults to ``UNSET``, so a partial
response decodes and re-encodes without invented keys; ``None`` is allowed where Kibo sends null.
"""

# ruff: noqa: N815
# Kibo's JSON names verbatim as attribute names: code can introspect them without a rename map.

import datetime
from typing import Any

import msgspec
from msgspec import UNSET, UnsetType


# The options are repeated on each class because type checkers do not inherit ``frozen``.
# UNSET fields are never encoded, so ``omit_defaults`` is not needed.
class AuditInfo(msgspec.Struct, kw_only=True, frozen=True):
    createBy: str | UnsetType | None = UNSET
    createDate: datetime.datetime | UnsetType = UNSET
    updateBy: str | UnsetType | None = UNSET
    updateDate: datetime.datetime | UnsetType = UNSET


class CustomerAttribute(msgspec.Struct, kw_only=True, frozen=True):
    attributeDefinitionId: int | UnsetType = UNSET
    auditInfo: AuditInfo | UnsetType = UNSET
    fullyQualifiedName: str | UnsetType = UNSET
    values: tuple[Any, ...] | UnsetType = UNSET


class CurrencyAmount(msgspec.Struct, kw_only=True, frozen=True):
    amount: float | UnsetType = UNSET
    currencyCode: str | UnsetType = UNSET


class CommerceSummary(msgspec.Struct, kw_only=True, frozen=True):
    lastOrderDate: datetime.datetime | UnsetType | None = UNSET
    orderCount: int | UnsetType = UNSET
    totalOrderAmount: CurrencyAmount | UnsetType = UNSET
    visitsCount: int | UnsetType = UNSET
    wishlistCount: int | UnsetType = UNSET


class Address(msgspec.Struct, kw_only=True, frozen=True):
    address1: str | UnsetType | None = UNSET
    address2: str | UnsetType | None = UNSET
    address3: str | UnsetType | None = UNSET
    address4: str | UnsetType | None = UNSET
    addressType: str | UnsetType | None = UNSET
    cityOrTown: str | UnsetType | None = UNSET
    countryCode: str | UnsetType | None = UNSET
    isValidated: bool | UnsetType = UNSET
    postalOrZipCode: str | UnsetType | None = UNSET
    stateOrProvince: str | UnsetType | None = UNSET


class Phone(msgspec.Struct, kw_only=True, frozen=True):
    home: str | UnsetType | None = UNSET
    mobile: str | UnsetType | None = UNSET
    work: str | UnsetType | None = UNSET


class ContactType(msgspec.Struct, kw_only=True, frozen=True):
    isPrimary: bool | UnsetType = UNSET
    name: str | UnsetType = UNSET


class CustomerContact(msgspec.Struct, kw_only=True, frozen=True):
    accountId: int | UnsetType = UNSET
    address: Address | UnsetType = UNSET
    auditInfo: AuditInfo | UnsetType = UNSET
    companyOrOrganization: str | UnsetType | None = UNSET
    email: str | UnsetType | None = UNSET
    faxNumber: str | UnsetType | None = UNSET
    firstName: str | UnsetType | None = UNSET
    id: int | UnsetType = UNSET
    label: str | UnsetType | None = UNSET
    lastNameOrSurname: str | UnsetType | None = UNSET
    middleNameOrInitial: str | UnsetType | None = UNSET
    phoneNumbers: Phone | UnsetType | None = UNSET
    types: tuple[ContactType, ...] | UnsetType = UNSET


class CustomerNote(msgspec.Struct, kw_only=True, frozen=True):
    auditInfo: AuditInfo | UnsetType = UNSET
    content: str | UnsetType = UNSET
    id: int | UnsetType = UNSET


class CustomerSegment(msgspec.Struct, kw_only=True, frozen=True):
    auditInfo: AuditInfo | UnsetType = UNSET
    code: str | UnsetType = UNSET
    description: str | UnsetType | None = UNSET
    id: int | UnsetType = UNSET
    name: str | UnsetType = UNSET


class CustomerAccount(msgspec.Struct, kw_only=True, frozen=True):
    accountType: str | UnsetType = UNSET
    attributes: tuple[CustomerAttribute, ...] | UnsetType = UNSET
    auditInfo: AuditInfo | UnsetType = UNSET
    commerceSummary: CommerceSummary | UnsetType = UNSET
    companyOrOrganization: str | UnsetType | None = UNSET
    contacts: tuple[CustomerContact, ...] | UnsetType = UNSET
    customerSet: str | UnsetType = UNSET
    customerSinceDate: datetime.datetime | UnsetType = UNSET
    externalId: str | UnsetType | None = UNSET
    id: int | UnsetType = UNSET
    migrationRequired: bool | UnsetType = UNSET
    notes: tuple[CustomerNote, ...] | UnsetType = UNSET
    segments: tuple[CustomerSegment, ...] | UnsetType = UNSET
    taxExempt: bool | UnsetType = UNSET
    taxId: str | UnsetType | None = UNSET
    acceptsMarketing: bool | UnsetType = UNSET
    # Anonymous shoppers have no identity yet: Kibo sends these four as null.
    emailAddress: str | UnsetType | None = UNSET
    firstName: str | UnsetType | None = UNSET
    hasExternalPassword: bool | UnsetType = UNSET
    isActive: bool | UnsetType = UNSET
    isAnonymous: bool | UnsetType = UNSET
    isLocked: bool | UnsetType = UNSET
    last2FaDate: datetime.datetime | UnsetType | None = UNSET
    lastName: str | UnsetType | None = UNSET
    localeCode: str | UnsetType = UNSET
    userId: str | UnsetType = UNSET
    userName: str | UnsetType | None = UNSET


class CustomerAuthTicket(msgspec.Struct, kw_only=True, frozen=True):
    accessToken: str | UnsetType = UNSET
    accessTokenExpiration: datetime.datetime | UnsetType = UNSET
    customerAccount: CustomerAccount | UnsetType = UNSET
    jwtAccessToken: str | UnsetType = UNSET
    refreshToken: str | UnsetType = UNSET
    refreshTokenExpiration: datetime.datetime | UnsetType = UNSET
    requires2FA: bool | UnsetType = UNSET
    userId: str | UnsetType = UNSET
