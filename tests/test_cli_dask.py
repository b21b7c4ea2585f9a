"""``apply --dask --output``: how the words are read, misuse, and life without the extra.

None of it needs dask: where it is installed, it is hidden from the imports that must do without.

Internals reached: the command's module ``projection._cli`` and its entry point ``main``.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from projection import _cli
from projection._cli import main

INSTALL = "pip install 'kibo-projection[dask]'"


def test_the_core_and_the_command_never_import_dask(tmp_path: Path) -> None:
    path = tmp_path / "tickets.ndjson"
    path.write_bytes(b'{"accessToken": "a", "userId": "u"}\n')
    script = textwrap.dedent(
        f"""
        import sys
        import projection
        from projection._cli import main
        assert main(["apply", "accessToken", {str(path)!r}]) == 0
        extra = ("dask", "distributed")
        loaded = sorted(name for name in sys.modules if name.split(".")[0] in extra)
        assert not loaded, loaded
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, timeout=60, check=False
    )
    assert (result.returncode, result.stderr) == (0, b"")
    assert result.stdout == b'{"accessToken":"a"}\n'


@pytest.fixture
def without_dask(monkeypatch: pytest.MonkeyPatch) -> None:
    # None in sys.modules makes ``import name`` raise ImportError, as if it were not installed.
    for name in ("dask", "dask.bag", "dask.bytes", "distributed", "projection.dask"):
        monkeypatch.setitem(sys.modules, name, None)


@pytest.mark.usefixtures("without_dask")
def test_dask_option_without_the_extra_says_what_to_install(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "tickets.ndjson"
    path.write_bytes(b'{"accessToken": "a"}\n')
    assert main(["apply", "accessToken", str(path), "--dask", "-o", str(tmp_path / "out")]) == 1
    needs = f"projection apply: --dask needs dask and distributed: {INSTALL}\n"
    assert capsys.readouterr().err == needs
    assert not (tmp_path / "out").exists()


def test_the_module_without_the_extra_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "dask", None)
    monkeypatch.delitem(sys.modules, "projection.dask", raising=False)
    with pytest.raises(ImportError, match=re.escape(INSTALL)):
        import projection.dask  # noqa: F401


@pytest.mark.parametrize(
    ("words", "dask", "files"),
    [
        (["--dask", "a.ndjson", "-o", "out"], "", ["a.ndjson"]),
        (["a.ndjson", "--dask", "-o", "out"], "", ["a.ndjson"]),
        (["--dask", "s3://bucket/a.ndjson", "-o", "out"], "", ["s3://bucket/a.ndjson"]),
        (
            ["--dask", "tcp://10.0.0.7:8786", "a", "b", "-o", "out"],
            "tcp://10.0.0.7:8786",
            ["a", "b"],
        ),
        (["a", "-o", "out", "--dask", "scheduler:8786"], "scheduler:8786", ["a"]),
        (["a", "--dask=tls://[::1]:8786", "--output=out"], "tls://[::1]:8786", ["a"]),
        (["a", "--output", "out", "--dask"], "", ["a"]),
    ],
)
def test_dask_takes_the_next_word_only_when_it_is_an_address(
    monkeypatch: pytest.MonkeyPatch, words: list[str], dask: str, files: list[str]
) -> None:
    seen: list[argparse.Namespace] = []

    def apply_on_dask(arguments: argparse.Namespace, _: object) -> int:
        seen.append(arguments)
        return 0

    monkeypatch.setattr(_cli, "_apply_on_dask", apply_on_dask)
    assert main(["apply", "accessToken", *words]) == 0
    assert [(arguments.dask, arguments.files, arguments.output) for arguments in seen] == [
        (dask, files, "out")
    ]


@pytest.mark.parametrize(
    ("words", "misuse"),
    [
        (["a", "b"], "several FILEs need --dask and --output"),
        (["a", "--dask"], "--dask and --output go together: the cluster's workers write the parts"),
        (
            ["a", "b", "-o", "out"],
            "--dask and --output go together: the cluster's workers write the parts",
        ),
        (
            ["--dask", "-o", "out"],
            "--dask reads FILEs, not stdin: name one or more (paths, globs, URLs)",
        ),
        (
            ["a", "--dask", "-o", "out", "--format", "json"],
            "--dask projects NDJSON files: --format json is for one document",
        ),
        (
            ["a", "--dask", "host:8786", "-o", "out", "-w", "2"],
            "--workers sizes a local cluster: the cluster at ADDRESS has its own workers",
        ),
    ],
)
def test_misuse_of_dask_and_output_is_status_2(
    capsys: pytest.CaptureFixture[str], words: list[str], misuse: str
) -> None:
    with pytest.raises(SystemExit) as stop:
        main(["apply", "accessToken", *words])
    assert stop.value.code == 2
    assert capsys.readouterr().err.splitlines()[-1] == f"projection apply: error: {misuse}"
