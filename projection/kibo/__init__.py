"""Kibo Commerce CustomerAuthTicket: msgspec models and a realistic, deterministic sample generator.

The models decode and re-encode real and partial responses unchanged; the samples feed tests,
benchmarks and the mock server.
"""

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
from projection.kibo._sample import (
    anonymous_authtickets,
    iter_sample_lines,
    sample_authtickets,
    sample_bytes,
)

__all__ = [
    "Address",
    "AuditInfo",
    "CommerceSummary",
    "ContactType",
    "CurrencyAmount",
    "CustomerAccount",
    "CustomerAttribute",
    "CustomerAuthTicket",
    "CustomerContact",
    "CustomerNote",
    "CustomerSegment",
    "Phone",
    "anonymous_authtickets",
    "iter_sample_lines",
    "sample_authtickets",
    "sample_bytes",
]
