"""The README is true: its commands parse, and its sample output is what the main job prints."""

import re
import shlex
from pathlib import Path

import pytest

from lottery.cli import build_parser, main

README = Path(__file__).resolve().parents[1] / "README.md"
PLACEHOLDERS = {"DIR": "data", "<hash>": "0123456789"}


def code_blocks(text: str) -> list[str]:
    return re.findall(r"```[a-z]*\n(.*?)```", text, flags=re.S)


def lottery_commands(text: str) -> list[list[str]]:
    """Every `lottery ...` command line in the code blocks (continuations joined, comments dropped)."""
    commands = []
    for block in code_blocks(text):
        for line in block.replace("\\\n", " ").splitlines():
            words = shlex.split(line.lstrip("$ "), comments=True)
            if "lottery" in words:
                words = words[words.index("lottery") + 1 :]
                commands.append([PLACEHOLDERS.get(w, w) for w in words])
    return commands


def test_readme_commands_parse():
    commands = lottery_commands(README.read_text())
    assert len(commands) >= 5
    for argv in commands:
        build_parser().parse_args(argv)  # argparse exits (failing the test) on a flag that does not exist


def sample_output() -> tuple[list[str], str]:
    """The README's sample run: (its command's arguments, what it printed)."""
    block = next(b for b in code_blocks(README.read_text()) if b.startswith("$ lottery run"))
    command, _, printed = block.partition("\n")
    return shlex.split(command)[2:], printed


def table_rows(printed: str) -> list[list[str]]:
    return [line.split() for line in printed.splitlines() if re.match(r"^\s*[a-z_]+\s+\d+\s+[\d.]+\s+\d+\s", line)]


@pytest.mark.slow
def test_readme_sample_output_is_what_the_main_job_prints(capsys, tmp_path, monkeypatch):
    argv, expected = sample_output()
    monkeypatch.chdir(tmp_path)
    assert main([*argv, "--no-progress"]) == 0
    printed = capsys.readouterr().out
    # The header (experiment name, settings, seeds) is exact; the numbers may move in the last digits on
    # another CPU (a different float summation order), so they are compared within a tolerance.
    assert printed.splitlines()[:3] == expected.splitlines()[:3]
    got, want = table_rows(printed), table_rows(expected)
    assert [r[:4] for r in got] == [r[:4] for r in want] and len(want) >= 9
    for g, w in zip(got, want, strict=True):
        assert float(g[5]) == pytest.approx(float(w[5]), abs=0.02)  # validation loss at early stop
        assert float(g[6]) == pytest.approx(float(w[6]), abs=1.5) and float(g[7]) == pytest.approx(float(w[7]), abs=1.5)
