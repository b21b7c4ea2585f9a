"""The package's internals that tests drive directly, named once, here.

``Projection.project`` chooses between the fast path's two ways by itself: the generic way, which
builds no msgspec types, for an expression's first document, and the compiled way, typed Structs
wherever the projection allows, from the second on. Neither way alone, nor the compiled projection
that bulk input runs on, is public. Tests that compare the two ways, or that drive the bulk engine
(``projection._bulk``) with a compiled projection, take them from here.
"""

from __future__ import annotations

from projection import Projection
from projection._compile import Compiled
from projection._projection import compiled, mask_of

__all__ = ["compiled", "project_compiled", "project_generic"]


def project_compiled(parsed: Projection, data: bytes) -> bytes:
    """``data`` projected the compiled way, as ``parsed.project`` does from its second document."""
    return compiled(parsed).project(data)


def project_generic(parsed: Projection, data: bytes) -> bytes:
    """``data`` projected the generic way alone, as ``parsed.project`` does its first document."""
    return Compiled(
        mask_of(parsed),
        case_insensitive=parsed.case_insensitive,
        typed=False,
        schema=parsed.schema,
    ).project(data)
