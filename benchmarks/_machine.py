"""What the figures were measured on: CPU, cores, memory, Python, OS and every package's version.

Ratios travel between machines better than times, but neither travels without this.
"""

from __future__ import annotations

import os
import platform
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

__all__ = ["describe"]

# Distribution names, as the package index knows them.
PACKAGES = (
    "kibo-projection",
    "msgspec",
    "orjson",
    "lark",
    "jsonmask",
    "glom",
    "pysimdjson",
    "matplotlib",
    "dask",
    "distributed",
)


def describe() -> dict[str, Any]:
    """The machine and software, as JSON-ready values; a package not installed is ``None``."""
    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "usable_cores": len(os.sched_getaffinity(0)),
        "memory_gb": _memory_gb(),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "os": platform.platform(),
        "versions": {name: _version(name) for name in PACKAGES},
    }


def _cpu_model() -> str:
    try:
        info = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.processor() or "unknown"
    for line in info.splitlines():
        if line.startswith("model name"):
            return line.partition(":")[2].strip()
    return platform.processor() or "unknown"


def _memory_gb() -> float | None:
    try:
        pages, size = os.sysconf("SC_PHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError):
        return None
    return round(pages * size / 1e9, 1)


def _version(name: str) -> str | None:
    try:
        return version(name)
    except PackageNotFoundError:
        return None
