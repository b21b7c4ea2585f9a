"""The README's promises: its two opening commands, and every example in its guide."""

from __future__ import annotations

import doctest
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_readme_opens_with_the_two_commands_that_ci_runs() -> None:
    # A few lines on what it is and for whom, then the first block of code: the two commands.
    intro, _, rest = README.partition("```sh\n")
    assert intro.startswith("# projection\n\n")
    assert "```" not in intro, "the README must open with its two commands"
    assert intro.count("\n") < 16
    main_command, test_command = rest.partition("```")[0].strip().splitlines()
    assert "projection sample" in main_command
    assert "projection apply" in main_command
    assert test_command.endswith("-m pytest")
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert test_command in ci.splitlines()
    assert any(line.startswith(main_command) for line in ci.splitlines())


def test_readme_examples_run(monkeypatch: pytest.MonkeyPatch) -> None:
    # The examples name files as a reader in the checkout does: relative to its root.
    monkeypatch.chdir(ROOT)
    examples = "\n".join(re.findall(r"```pycon\n(.*?)```", README, re.DOTALL))
    assert examples.count(">>>") >= 15
    test = doctest.DocTestParser().get_doctest(
        examples, {}, "README.md", str(ROOT / "README.md"), 0
    )
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.attempted == examples.count(">>>")
    assert result.failed == 0
