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
    """What the sample shows that holds on every CPU. Its numbers are one CPU's (docs/reliability.md, "Same
    numbers where"): another instruction set rounds differently and training follows it to other early
    stops and accuracies, so they are checked for what any correct run prints, not digit by digit."""
    argv, expected = sample_output()
    monkeypatch.chdir(tmp_path)
    assert main([*argv, "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert printed.splitlines()[:3] == expected.splitlines()[:3]  # experiment name, settings, seeds
    assert printed.splitlines()[-1] == expected.splitlines()[-1]  # where the figure went
    got, want = table_rows(printed), table_rows(expected)
    assert [r[:4] for r in got] == [r[:4] for r in want] and len(want) >= 9  # branch, level, Pm, trials
    test_images = 297  # the digits test set: an accuracy is a whole number of images
    for row in got:
        early_stop, val_loss, accuracies = int(row[4]), float(row[5]), [float(a) for a in row[6:8]]
        assert 0 < early_stop <= 2000 and early_stop % 50 == 0  # an evaluation of the 2,000 iterations
        assert 0 < val_loss < 0.2
        for accuracy in accuracies:
            assert 90 < accuracy <= 100 and round(accuracy * test_images / 100) == pytest.approx(
                accuracy * test_images / 100, abs=0.02
            )


def relative_links(text: str) -> list[str]:
    """The targets of the Markdown links and images of ``text`` that point into the repository."""
    targets = re.findall(r"\]\(([^)\s]+)\)", text)
    return [t.split("#")[0] for t in targets if not re.match(r"[a-z]+:", t) and not t.startswith("#")]


def test_every_relative_link_of_the_docs_resolves():
    repo = README.parent
    broken = [
        f"{page.relative_to(repo)} -> {target}"
        for page in [README, *sorted((repo / "docs").rglob("*.md"))]
        for target in relative_links(page.read_text())
        if target and not (page.parent / target).exists()
    ]
    assert not broken, broken
