"""The public names, pinned: a name added to or dropped from a public module is a decision.

Each public module's ``__all__`` is listed here in full, sorted; everything it lists exists, and
the package's own ``__all__`` holds nothing private.
"""

from __future__ import annotations

import importlib

import pytest

PUBLIC = {
    "projection": [
        "ExpressionError",
        "OpenAPIError",
        "OpenAPILookupError",
        "PayloadError",
        "Projection",
        "ProjectionCache",
        "ProjectionError",
        "ProjectionLimitError",
        "ProjectionSyntaxError",
        "UnknownFieldError",
        "parse",
        "project",
    ],
    "projection.asgi": ["ResponseFieldsMiddleware"],
    "projection.dask": ["Rejected", "Report", "project_bag", "project_ndjson"],
    "projection.kibo": [
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
    ],
    "projection.mock": ["RunningServer", "create_app", "running"],
    "projection.openapi": ["OpenAPI", "OpenAPIError", "OpenAPILookupError", "Operation"],
}


@pytest.mark.parametrize("name", sorted(PUBLIC))
def test_each_public_module_exports_exactly_its_names(name: str) -> None:
    if name == "projection.dask":
        pytest.importorskip("dask", reason="projection.dask needs the dask extra")
    module = importlib.import_module(name)
    assert module.__all__ == PUBLIC[name]
    for exported in module.__all__:
        assert not exported.startswith("_")
        assert getattr(module, exported) is not None


def test_the_version_is_public_without_being_exported() -> None:
    import projection

    assert isinstance(projection.__version__, str)
    assert "__version__" not in projection.__all__
