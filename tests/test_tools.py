"""The repository's tools: ``tools/mutants.py``'s list of equivalent mutants matches the code.

Each mutant the list argues equivalent must still be one the tool makes, on the line as it now
reads: a line edited since leaves an argument about code that no longer exists.
"""

from __future__ import annotations

import functools
import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _mutants_tool() -> ModuleType:
    spec = importlib.util.spec_from_file_location("mutants", ROOT / "tools" / "mutants.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


TOOL = _mutants_tool()
LISTED = sorted(TOOL.equivalents())


@functools.cache
def _made(module: str) -> frozenset[tuple[str, str, str]]:
    """The mutants the tool makes of ``module``, by the names the list gives them."""
    source = (ROOT / module).read_bytes()
    return frozenset(mutant.name(source) for mutant in TOOL.mutants(module, ROOT))


@pytest.mark.parametrize("listed", LISTED, ids=[f"{m}:{change}" for m, _, change in LISTED])
def test_every_equivalent_mutant_is_one_the_tool_makes(listed: tuple[str, str, str]) -> None:
    assert listed[0] in TOOL.MODULES
    assert listed in _made(listed[0])


def test_every_equivalent_mutant_is_argued() -> None:
    assert all(len(why.split()) >= 10 for why in TOOL.equivalents().values())
