"""A bounded LRU cache of parsed and compiled projections behind ``projection.project``.

Gateways see the same few expressions over and over: the cache spares them parsing and compiling
on every request, and its bound keeps memory flat however many distinct expressions arrive.
"""

from __future__ import annotations

import functools

from ._projection import Projection, parse

__all__ = ["ProjectionCache", "project"]


class ProjectionCache:
    """Parsed projections by expression text, the least recently used dropped beyond ``maxsize``.

    Thread-safe (``functools.lru_cache`` underneath, whose hits cost tens of nanoseconds). Each
    cached ``Projection`` keeps its compiled fast path once used; parse errors are not cached.
    """

    def __init__(self, maxsize: int = 1024, *, case_insensitive: bool = False) -> None:
        if maxsize < 1:
            raise ValueError(f"maxsize must be at least 1, not {maxsize}")
        self.maxsize = maxsize
        self.case_insensitive = case_insensitive
        parsed = functools.partial(parse, case_insensitive=case_insensitive)
        # typeshed's name for what lru_cache returns: the wrapper with cache_info and cache_clear.
        self.get: functools._lru_cache_wrapper[Projection] = functools.lru_cache(maxsize)(parsed)
        """The projection of an expression, parsed on a miss."""

    def project(self, expression: str, data: bytes) -> bytes:
        """JSON bytes projected by a ``responseFields`` expression: parsed and compiled once.

        ``projection.project`` is this method on a shared cache of the 1024 most recently used
        expressions; for another size or case-insensitive names, make a ``ProjectionCache``.
        """
        return self.get(expression).project(data)

    @property
    def hits(self) -> int:
        return self.get.cache_info().hits

    @property
    def misses(self) -> int:
        return self.get.cache_info().misses

    def __len__(self) -> int:
        return self.get.cache_info().currsize

    def clear(self) -> None:
        self.get.cache_clear()


project = ProjectionCache().project
