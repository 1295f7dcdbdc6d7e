"""The branch registry: a new branch is one class, registered, and every part of lottery picks it up."""

import pytest
import torch
from conftest import TINY_RUN

from lottery.cli import build_parser, main
from lottery.errors import UsageError
from lottery.experiments import Branch, Start, Style, TICKET, register_branch, unregister_branch
from lottery.experiments.branches import all_branches, branch_kind, figure_branches
from lottery.experiments.imp import reset_state, ticket_mask
from lottery.report import aggregate, load_experiment
from lottery.report.paper import make_report
from lottery.report.plots import style
from lottery.storage import load_json, load_tensors

TOY_STYLE = Style("tab:purple", "v", "negated θ0 (toy)")


class NegatedStart(Branch):
    """A toy control: the ticket's mask, trained from -θ0."""

    name, order, flag = "negated", 40, "--negated-draws"
    help = "toy control: the ticket's masks trained from -θ0"
    style = TOY_STYLE
    figures = (4,)

    def start(self, exp, trial, draw, level):
        state, start = reset_state(exp, trial)
        return Start(
            {k: -v for k, v in state.items()}, ticket_mask(exp, trial, level), start, extra={"negated": {"draw": draw}}
        )


@pytest.fixture
def toy():
    register_branch(NegatedStart)
    try:
        yield NegatedStart
    finally:
        unregister_branch(NegatedStart.name)


@pytest.mark.slow
def test_a_registered_branch_runs_end_to_end_and_is_reported(toy, tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["run", "--help"])
    assert "--negated-draws N" in capsys.readouterr().out
    assert (
        main(
            [
                *TINY_RUN,
                "--levels",
                "1",
                "--negated-draws",
                "2",
                "--no-progress",
                "--out",
                str(tmp_path / "runs"),
            ]
        )
        == 0
    )
    folder = next((tmp_path / "runs").iterdir())
    trial = folder / "trial_0"
    assert sorted(p.name for p in trial.iterdir() if p.is_dir()) == ["negated_0", "negated_1", TICKET]
    assert not (trial / "negated_0" / "level_0").exists()  # controls share the ticket's dense level
    ticket = load_tensors(trial / TICKET / "level_1" / "mask.pt")
    for d in range(2):
        level = trial / f"negated_{d}" / "level_1"
        mask = load_tensors(level / "mask.pt")
        assert all(torch.equal(mask[n], ticket[n]) for n in ticket)
        assert load_json(level / "metrics.json")["negated"] == {"draw": d}

    _, runs = load_experiment(folder)
    assert [(ls.branch, ls.level, ls.trials) for ls in aggregate(runs)] == [
        (TICKET, 0, 1),
        (TICKET, 1, 1),
        ("negated", 1, 2),
    ]
    assert style("negated") == TOY_STYLE and "negated" in figure_branches(4)
    _, notes = make_report([folder], tmp_path / "report")
    assert "| level | Pm % | ticket | negated |" in (tmp_path / "report" / "table.md").read_text()
    assert not any("negated" in n for n in notes)
    assert any("--reinit-draws N" in n for n in notes)  # the built-in branches still note their absence


def test_a_missing_registered_branch_is_noted_and_unregistering_removes_it(toy, tmp_path, capsys):
    assert (
        main(
            [
                "run",
                "--preset",
                "lenet-digits",
                "--iterations",
                "10",
                "--eval-every",
                "10",
                "--levels",
                "1",
                "--no-progress",
                "--out",
                str(tmp_path / "runs"),
            ]
        )
        == 0
    )
    folder = next((tmp_path / "runs").iterdir())
    _, notes = make_report([folder], tmp_path / "report")
    assert any("no negated branch for Figure 4" in n and "--negated-draws N" in n for n in notes)
    unregister_branch(toy.name)
    assert "negated" not in [b.name for b in all_branches()] and style("negated").color == "gray"
    with pytest.raises(SystemExit):
        build_parser().parse_args(["run", "--negated-draws", "1"])


def test_registry_rejects_clashes_and_unknown_requests(tmp_path):
    class SameFlag(NegatedStart):
        name = "other"
        flag = "--reinit-draws"

    with pytest.raises(ValueError, match="clashes"):
        register_branch(SameFlag)
    from lottery.experiments.runner import plan

    with pytest.raises(UsageError, match="unknown branch request"):
        plan(None, 1, 1, reinit=2)
    assert branch_kind("reinit_12") == "reinit" and branch_kind("oneshot") == "oneshot"
    assert branch_kind("_3") == "_3"
    at_init = [m + c for m in ("snip", "grasp", "synflow") for c in ("", "_shuffle", "_reinit", "_invert")]
    assert [b.name for b in all_branches()] == [
        *(TICKET, "reinit", "random", "oneshot", "sign_reinit", "weight_shuffle"),
        *at_init,
    ]
