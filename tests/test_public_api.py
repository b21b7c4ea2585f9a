"""The public names, pinned: a name added to or dropped from a public module is a decision.

Each public module's ``__all__`` is listed here in full, sorted; everything it lists exists, and
the package's own ``__all__`` holds nothing private. What the public names give back is public
too: no public function, method or attribute is annotated with a type of the package that no
public module exports.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
import sys
import types
import typing
from collections.abc import Iterator
from typing import Any

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


def test_every_public_module_is_pinned() -> None:
    """A module without a leading underscore is public: it is listed above."""
    import projection

    found = {"projection"}
    pending = [projection]
    while pending:
        package = pending.pop()
        for module in pkgutil.iter_modules(package.__path__, f"{package.__name__}."):
            last = module.name.rpartition(".")[2]
            if last.startswith("_"):
                continue
            found.add(module.name)
            if module.ispkg:
                pending.append(importlib.import_module(module.name))
    assert found == set(PUBLIC)


def _modules() -> list[types.ModuleType]:
    """The public modules this environment can import (``projection.dask`` needs its extra)."""
    found = []
    for name in sorted(PUBLIC):
        try:
            found.append(importlib.import_module(name))
        except ImportError:
            assert name == "projection.dask", name
    return found


def _checking_names(module: types.ModuleType) -> dict[str, Any]:
    """The names ``module`` imports for type checkers only (``if TYPE_CHECKING:``)."""
    names: dict[str, Any] = {}
    for statement in ast.parse(inspect.getsource(module)).body:
        if isinstance(statement, ast.If) and ast.unparse(statement.test) == "TYPE_CHECKING":
            code = compile(ast.Module(statement.body, []), str(module.__file__), "exec")
            exec(code, {"__name__": module.__name__, "__package__": module.__package__}, names)
    return names


def _annotated(module: types.ModuleType) -> Iterator[tuple[str, object]]:
    """Each public function, method, property and attribute of ``module``, with its type: what
    a function or method returns, what an attribute holds."""
    local = _checking_names(module)
    for name in module.__all__:
        value = getattr(module, name)
        if not inspect.isclass(value):
            if callable(value):
                yield name, typing.get_type_hints(value, localns=local).get("return")
            continue
        # Attribute by attribute: the private ones may name what only their module imports.
        for owner in value.__mro__:
            space = vars(sys.modules[owner.__module__])
            for attribute, hint in vars(owner).get("__annotations__", {}).items():
                if not attribute.startswith("_"):
                    written = isinstance(hint, str)
                    yield f"{name}.{attribute}", eval(hint, dict(space), local) if written else hint
        for attribute, member in vars(value).items():
            if attribute.startswith("_"):
                continue
            if isinstance(member, property) and member.fget is not None:
                member = member.fget
            elif isinstance(member, (staticmethod, classmethod)):
                member = member.__func__
            if inspect.isfunction(member):
                hints = typing.get_type_hints(member, localns=local)
                yield f"{name}.{attribute}", hints.get("return")


def _classes(hint: object) -> Iterator[object]:
    """The classes a type annotation names, through unions and generic arguments."""
    if inspect.isclass(hint):
        yield hint
    origin = typing.get_origin(hint)
    if origin is not None:
        yield from _classes(origin)
    for argument in typing.get_args(hint):
        yield from _classes(argument)


def test_public_names_give_back_only_public_types() -> None:
    modules = _modules()
    public = {id(getattr(module, name)) for module in modules for name in module.__all__}
    checked = 0
    for module in modules:
        for label, hint in _annotated(module):
            checked += 1
            for named in _classes(hint):
                owner = getattr(named, "__module__", "")
                if owner == "projection" or owner.startswith("projection."):
                    assert id(named) in public, f"{module.__name__}.{label} gives {named}"
    assert checked >= 40  # the walk found the methods it is meant to check


def test_the_version_is_public_without_being_exported() -> None:
    import projection

    assert isinstance(projection.__version__, str)
    assert "__version__" not in projection.__all__
