"""The wheel is ``kibo-projection`` and carries the grammar, its tables and the command: in a fresh
environment, all work and say their version.

Internals reached: where the installed parser came from (``projection._grammar``), to see that
the wheel's tables are loaded.
"""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import tomllib
import venv
import zipfile
from pathlib import Path

import lark
import pytest

from tests.test_grammar_tables import saved_with

ROOT = Path(__file__).resolve().parent.parent

VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["version"]

CHECK = """
import importlib.metadata, pathlib, sys
import projection
from projection import _grammar
installed = pathlib.Path(projection.__file__).resolve()
assert installed.is_relative_to(pathlib.Path(sys.prefix).resolve()), installed
assert (installed.parent / "_data" / "responsefields.lark").is_file()
print(projection.parse("customerAccount(contacts(address)), accessToken"))
print(_grammar._parser().source_path)
print(importlib.metadata.distribution("kibo-projection").metadata["Name"])
print(projection.__version__)
"""


@pytest.mark.slow
def test_wheel_installs_and_parses_in_a_fresh_environment(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(ROOT)],
        check=True,
        timeout=300,
    )
    # The distribution's own name, normalized as wheels spell it; the import package inside.
    (wheel,) = tmp_path.glob("kibo_projection-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        assert {
            "projection/_data/responsefields.lark",
            "projection/_data/responsefields.lalr",
        } <= set(archive.namelist())

    environment = tmp_path / "venv"
    venv.create(environment, with_pip=False)
    python = environment / "bin" / "python"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(python),
            "install",
            "-q",
            "--no-deps",
            str(wheel),
        ],
        check=True,
        timeout=300,
    )
    # The runtime dependencies come from this environment; the package itself only from the wheel
    # (a path added by a .pth file does not have its own .pth files, the editable hook, read).
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    Path(site, "dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")

    def run(*argv: str | Path) -> str:
        result = subprocess.run(
            argv,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
            env={key: value for key, value in os.environ.items() if key != "PYTHONPATH"},
            check=False,
        )
        assert result.returncode == 0, result.stderr
        return result.stdout

    canonical, source, name, installed = run(python, "-c", CHECK).splitlines()
    assert canonical == "customerAccount(contacts(address)),accessToken"
    assert name == "kibo-projection"
    assert installed == VERSION
    # The saved tables are loaded, unless saved with another lark than this one (see
    # test_grammar_tables.py): then lark builds them.
    version, _ = saved_with()
    assert (source == "<deserialized>") == (version == lark.__version__)
    # The console script the wheel installs.
    command = environment / "bin" / "projection"
    assert run(command, "check", "a/b, c").startswith("a(b),c\n")
    assert run(command, "--version") == f"projection {VERSION}\n"
    # The sample generator's words ship with it.
    assert run(command, "sample", "-n", "1").count("customerAccount") == 1
