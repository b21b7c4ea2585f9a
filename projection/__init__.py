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
from ._tree import Projection, parse

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
