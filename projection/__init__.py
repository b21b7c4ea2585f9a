"""Parse Kibo Commerce ``responseFields`` expressions and project JSON payloads with them.

>>> import projection
>>> p = projection.parse("customerAccount(contacts(address)),accessToken")
>>> p.apply({"accessToken": "t", "userId": "u", "customerAccount": {"id": 1, "contacts": []}})
{'customerAccount': {'contacts': []}, 'accessToken': 't'}
"""

from ._cache import ProjectionCache, project
from ._errors import (
    ExpressionError,
    OpenAPIError,
    OpenAPILookupError,
    PayloadError,
    ProjectionError,
    ProjectionLimitError,
    ProjectionSyntaxError,
    UnknownFieldError,
)
from ._projection import Projection, parse

__all__ = [
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
]

# Errors and values print as ``projection.X`` (tracebacks, reprs): the name users import.
for _public in (
    ExpressionError,
    OpenAPIError,
    OpenAPILookupError,
    PayloadError,
    Projection,
    ProjectionCache,
    ProjectionError,
    ProjectionLimitError,
    ProjectionSyntaxError,
    UnknownFieldError,
):
    _public.__module__ = __name__
del _public


def __getattr__(name: str) -> str:
    # ``__version__`` is read from the installed metadata when asked for, not at import: loading
    # importlib.metadata would add a quarter to the command's start-up (30 ms, measured).
    if name == "__version__":
        from importlib.metadata import PackageNotFoundError, version

        try:
            return version("kibo-projection")
        except PackageNotFoundError:  # a source tree on sys.path, never installed
            return "0+unknown"
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
