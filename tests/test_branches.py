"""The branch registry: a new branch is one class, registered, and every part of lottery picks it up."""

import re

import pytest
import torch
from conftest import TINY_RUN, make_splits

from lottery.cli import build_parser, main
from lottery.errors import LotteryError, UsageError
from lottery.experiments import Branch, Experiment, Start, Style, TICKET, register_branch, unregister_branch
from lottery.experiments import level_queue
from lottery.experiments.branches import all_branches, branch_kind, figure_branches, get_branch, run_branch_level
from lottery.experiments.imp import reset_state, run_ticket_level, ticket_mask
from lottery.hparams import DatasetHparams, ExperimentHparams, TrainingHparams
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

    runs = load_experiment(folder).runs
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

    with pytest.raises(LotteryError, match=r"^branch 'other' takes the flag --reinit-draws of 'reinit'"):
        register_branch(SameFlag)
    with pytest.raises(LotteryError, match=r"^branch 'reinit' is registered twice: rename one of them$"):
        register_branch(type("SameName", (SameFlag,), {"name": "reinit", "flag": "--other-draws"}))
    with pytest.raises(UsageError, match=r"^unknown branch 'nope'; choose one of: .*oneshot, random, reinit"):
        get_branch("nope")
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


def test_a_start_only_reads_earlier_levels_and_names_what_is_missing(tmp_path, monkeypatch):
    """A level whose ticket chain is not trained up to it is refused with the missing file and what to
    run; nothing is trained or written on the way (the runner trains the chain first)."""
    hp = ExperimentHparams(
        dataset=DatasetHparams("tiny"), training=TrainingHparams(lr=5e-3, batch_size=20, iterations=10, eval_every=5)
    )
    with Experiment(hp, tmp_path, data=make_splits(shape=(1, 10, 10)), progress=False) as exp:
        run_ticket_level(exp, 0, 0)  # the dense level alone
        trained = []
        real_train_many = level_queue.train_many
        monkeypatch.setattr(
            level_queue, "train_many", lambda jobs, *a, **k: trained.extend(jobs) or real_train_many(jobs, *a, **k)
        )
        files = {p: p.stat().st_mtime_ns for p in exp.paths.folder.rglob("*")}
        missing = exp.paths.trial(0).level(TICKET, 1).final
        for branch in all_branches():  # the ticket itself, the paper's controls, one-shot, the follow-up controls
            with pytest.raises(LotteryError, match=rf"{re.escape(str(missing))}.*not been trained.*lottery run") as e:
                branch.start(exp, 0, 0, 2)
            assert "\n" not in str(e.value) and "trial 0 ticket level 1 has not been trained" in str(e.value)
            with pytest.raises(LotteryError, match=rf"{re.escape(str(missing))}.*not been trained"):
                run_branch_level(exp, branch, 0, 0, 2)
        assert trained == []
        assert {p: p.stat().st_mtime_ns for p in exp.paths.folder.rglob("*")} == files
