"""Small msgspec schemas the case tables and the schema tests name (``"schema": "Doc"``).

``Inner`` and ``Other`` hold the same names in other orders, so that a ``*`` group shows that each
field's own type orders its value (rule 8); ``Doc`` has a field of every kind an applier meets.
"""

from __future__ import annotations

from typing import Any

import msgspec
from msgspec import UNSET, UnsetType

from projection.kibo import CustomerAuthTicket


class Inner(msgspec.Struct, kw_only=True):
    x: int | UnsetType = UNSET
    y: int | UnsetType = UNSET
    z: int | UnsetType = UNSET


class Other(msgspec.Struct, kw_only=True):
    z: int | UnsetType = UNSET
    y: Inner | UnsetType | None = UNSET
    x: int | UnsetType = UNSET


class Doc(msgspec.Struct, kw_only=True):
    a: int | UnsetType = UNSET
    b: Inner | UnsetType | None = UNSET
    c: list[Inner] | UnsetType = UNSET
    d: Other | UnsetType = UNSET
    e: Any = UNSET
    f: dict[str, Inner] | UnsetType = UNSET
    g: str | UnsetType = UNSET


SCHEMAS: dict[str, type[msgspec.Struct]] = {
    "Doc": Doc,
    "Inner": Inner,
    "CustomerAuthTicket": CustomerAuthTicket,
}
