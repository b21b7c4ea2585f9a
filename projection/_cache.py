"""A bounded LRU cache of parsed and compiled projections behind ``projection.project``.

Gateways see the same few expressions over and over: the cache spares them parsing and compiling
on every request, and its bound keeps memory flat however many distinct expressions arrive.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from ._tree import Projection, parse

__all__ = ["ProjectionCache", "project"]


class ProjectionCache:
    """Parsed projections by expression text, the least recently used dropped beyond ``maxsize``.

    Thread-safe. Each cached ``Projection`` keeps its compiled fast path once it has been used.
    """

    def __init__(self, maxsize: int = 1024, *, case_insensitive: bool = False) -> None:
        if maxsize < 1:
            raise ValueError(f"maxsize must be at least 1, not {maxsize}")
        self.maxsize = maxsize
        self.case_insensitive = case_insensitive
        self._entries: OrderedDict[str, Projection] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, expression: str) -> Projection:
        """The projection of ``expression``, parsed on a miss; parse errors are not cached."""
        with self._lock:
            found = self._entries.get(expression)
            if found is not None:
                self._entries.move_to_end(expression)
                self.hits += 1
                return found
        parsed = parse(expression, case_insensitive=self.case_insensitive)
        with self._lock:
            self.misses += 1
            self._entries[expression] = parsed
            self._entries.move_to_end(expression)
            while len(self._entries) > self.maxsize:
                self._entries.popitem(last=False)
        return parsed

    def project(self, expression: str, data: bytes) -> bytes:
        """``data`` projected by ``expression``: ``parse(expression).project(data)``, cached."""
        return self.get(expression).project(data)

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


_default = ProjectionCache()


def project(expression: str, data: bytes) -> bytes:
    """JSON bytes projected by a ``responseFields`` expression, through a shared bounded cache.

    The cache holds the 1024 most recently used expressions; for another size or case-insensitive
    names, make a ``ProjectionCache`` of your own.
    """
    return _default.project(expression, data)
