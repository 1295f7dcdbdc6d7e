"""`lottery report`: the paper's figures and tables from a tiny finished experiment."""

import csv
import io
import re
import statistics
from dataclasses import replace
from pathlib import Path

import pytest
from conftest import TINY_RUN, make_splits
from PIL import Image

from lottery.cli import main
from lottery.errors import LotteryError, UsageError
from lottery.experiments import Experiment, run_experiment
from lottery.hparams import DatasetHparams, ExperimentHparams, TrainingHparams
from lottery.report import aggregate, load_experiment
from lottery.experiments.branch_settings import Draws
from lottery.experiments.branches import figure_branches
from lottery.experiments.controls import ControlSettings
from lottery.report.labels import experiment_title
from lottery.report.figures import default_curve_levels, figure_kinds, mean_curve, with_dense_start
from lottery.report.paper import make_report
from lottery.report.plots import plot_metric, plt
from lottery.storage import load_json

TINY = ExperimentHparams(
    dataset=DatasetHparams("tiny"), training=TrainingHparams(lr=5e-3, batch_size=20, iterations=20, eval_every=10)
)
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> Path:
    """2 trials x 2 levels with 2 reinit draws, 1 random draw and one-shot; whole test curves for Figure 3."""
    root, data = tmp_path_factory.mktemp("runs"), make_splits(shape=(1, 10, 10))
    with Experiment(TINY, root, data=data, progress=False, test_curve=True) as exp:
        run_experiment(exp, 2, 2, reinit_draws=2, random_draws=1, oneshot=True)
        return exp.paths.folder


def test_report_writes_valid_png_figures(finished, tmp_path):
    written, notes = make_report([finished], tmp_path / "report")
    assert notes == []
    names = sorted(p.name for p in written)
    assert names == ["fig1.png", "fig3.png", "fig4.png", "table.csv", "table.md"]
    for name in ("fig1.png", "fig3.png", "fig4.png"):
        path = tmp_path / "report" / name
        assert path.read_bytes()[:8] == PNG_MAGIC
        with Image.open(path) as image:
            image.verify()
        with Image.open(path) as image:
            width, height = image.size
            assert image.format == "PNG" and width >= 900 and height >= 500
            extrema = image.convert("L").getextrema()
            assert extrema[0] < 100 < extrema[1]  # something dark drawn on a light background
        assert path.stat().st_size > 20_000


def test_tables_hold_the_aggregated_numbers(finished, tmp_path):
    make_report([finished], tmp_path)
    rows = list(csv.DictReader(io.StringIO((tmp_path / "table.csv").read_text())))
    assert [(r["branch"], r["level"]) for r in rows] == [
        ("ticket", "0"),
        ("ticket", "1"),
        ("ticket", "2"),
        ("reinit", "1"),
        ("reinit", "2"),
        ("random", "1"),
        ("random", "2"),
        ("oneshot", "1"),
        ("oneshot", "2"),
    ]
    runs_of = {r["branch"]: int(r["runs"]) for r in rows}
    assert runs_of == {"ticket": 2, "reinit": 4, "random": 2, "oneshot": 2}  # trials x draws
    # the numbers are the trials' own: mean/min/max of what each trial recorded
    accs = [
        load_json(finished / f"trial_{t}" / "reinit_1" / "level_2" / "metrics.json")["summary"][
            "test_acc_at_early_stop"
        ]
        for t in (0, 1)
    ]
    accs += [
        load_json(finished / f"trial_{t}" / "reinit_0" / "level_2" / "metrics.json")["summary"][
            "test_acc_at_early_stop"
        ]
        for t in (0, 1)
    ]
    row = next(r for r in rows if r["branch"] == "reinit" and r["level"] == "2")
    assert float(row["test_acc_at_early_stop_mean"]) == pytest.approx(statistics.fmean(accs), rel=1e-5)
    assert float(row["test_acc_at_early_stop_min"]) == pytest.approx(min(accs), rel=1e-5)
    assert float(row["test_acc_at_early_stop_max"]) == pytest.approx(max(accs), rel=1e-5)
    markdown = (tmp_path / "table.md").read_text()
    assert markdown.count("\n| reinit |") == 2 and "train acc @ES %" in markdown
    reinit_cell = f"{100 * statistics.fmean(accs):.2f} [{100 * min(accs):.2f}, {100 * max(accs):.2f}]"
    assert reinit_cell in markdown  # min/max shown next to the mean
    # the side-by-side table: one row per Pm, branches as columns (ticket, reinit, random, oneshot)
    comparison = markdown.split("Early-stop iteration")[0]
    assert "| level | Pm % | ticket | reinit | random | oneshot |" in comparison
    row = next(line for line in comparison.splitlines() if line.startswith("| 2 |"))
    assert row.split(" | ")[3] == reinit_cell
    assert next(line for line in comparison.splitlines() if line.startswith("| 0 |")).endswith("— | — | — |")


def test_svg_and_several_experiments(finished, tmp_path):
    data = make_splits(shape=(1, 10, 10))
    with Experiment(replace(TINY, seed=7), tmp_path / "runs", data=data, progress=False, test_curve=True) as exp:
        run_experiment(exp, 1, 1)
        other = exp.paths.folder
    written, notes = make_report([finished, other], tmp_path / "out", fmt="svg", curve_levels=[0, 1])
    for folder in (finished, other):
        svg = (tmp_path / "out" / folder.name / "fig4.svg").read_text()
        assert svg.startswith("<?xml") and "<svg" in svg
    markdown = (tmp_path / "out" / "table.md").read_text()
    headings = [line for line in markdown.splitlines() if line.startswith("### ")]
    assert len(headings) == 2 and f"({finished.name})" in headings[0] and f"({other.name})" in headings[1]
    assert len(notes) == 3 and all(other.name in n for n in notes)  # no controls in the second one
    assert len(written) == 2 * 3 + 2


def test_figure_axes_follow_the_paper(finished):
    levels = aggregate(load_experiment(finished).runs)
    data = with_dense_start(levels, figure_branches(4))
    fig, ax = plt.subplots()
    plot_metric(ax, data, "test_acc_at_early_stop", 100)
    left, right = ax.get_xlim()
    assert ax.get_xscale() == "log" and left > right  # Pm decreasing left to right
    labels = ax.get_legend_handles_labels()[1]
    assert labels == ["winning ticket (IMP)", "random reinit", "one-shot pruning"]
    reinit = next(c for c in ax.containers if c.get_label() == "random reinit")
    assert reinit.lines[0].get_xdata()[0] == 100  # the control's line starts at the dense network
    plt.close(fig)
    # controls start from the shared dense point; random pruning is left out of Figure 4
    assert [(ls.branch, ls.level) for ls in data if ls.branch == "reinit"] == [
        ("reinit", 0),
        ("reinit", 1),
        ("reinit", 2),
    ]
    assert next(ls for ls in data if ls.branch == "reinit").stats == levels[0].stats
    assert not any(ls.branch == "random" for ls in data)


def test_mean_curve_and_default_levels():
    curves = [
        {"iterations": [0, 10, 20], "test_acc": [0.1, 0.5, 0.7]},
        {"iterations": [10, 20, 30], "test_acc": [0.3, 0.9, 1.0]},
    ]
    it, mean, low, high = mean_curve(curves)
    assert it.tolist() == [10, 20] and mean.tolist() == pytest.approx([0.4, 0.8])
    assert low.tolist() == [0.3, 0.7] and high.tolist() == [0.5, 0.9]
    assert default_curve_levels(list(range(9))) == [0, 3, 5, 8]
    assert default_curve_levels([0, 1]) == [0, 1]


def test_unknown_curve_level_is_a_usage_error(finished, tmp_path, capsys):
    with pytest.raises(UsageError, match=r"level.s. 7 not finished"):
        make_report([finished], tmp_path, curve_levels=[0, 7])
    assert main(["report", str(finished), "--out", str(tmp_path), "--levels-for-curves", "0,7"]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1
    assert main(["report", str(tmp_path), "--out", str(tmp_path / "r")]) == 1  # not an experiment
    assert "not a lottery experiment" in capsys.readouterr().err


def test_an_experiment_given_twice_or_an_unwritable_out_is_one_line(finished, tmp_path, capsys):
    assert main(["report", str(finished), str(finished), "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err.strip()
    assert "the same experiment is given twice" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "r").exists()  # refused before anything is written
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    assert main(["report", str(finished), "--out", str(blocker / "r")]) == 1
    err = capsys.readouterr().err.strip()
    assert "is a file, not a folder" in err and "--out" in err and len(err.splitlines()) == 1
    with pytest.raises(LotteryError, match=r"cannot write the report to .*--out"):  # the API, without the CLI's check
        make_report([finished], blocker / "r")
    assert blocker.read_text() == "not a folder"


def test_cli_run_with_controls_then_report(tmp_path, capsys):
    argv = [
        *TINY_RUN,
        "--levels",
        "1",
        "--reinit-draws",
        "1",
        "--random-draws",
        "1",
        "--oneshot",
        "--test-curve",
        "0,1",
        "--no-progress",
        "--out",
        str(tmp_path),
    ]
    assert main(argv) == 0
    folder = next(p for p in tmp_path.iterdir() if p.is_dir())
    for branch in ("ticket", "reinit_0", "random_0", "oneshot"):
        assert (folder / "trial_0" / branch / "level_1" / "metrics.json").exists()
    assert (folder / "summary.png").read_bytes()[:8] == PNG_MAGIC
    capsys.readouterr()
    assert main(["report", str(folder), "--out", str(tmp_path / "rep"), "--levels-for-curves", "0,1"]) == 0
    printed = capsys.readouterr().out.split()
    assert [Path(p).name for p in printed] == ["fig1.png", "fig3.png", "fig4.png", "table.md", "table.csv"]
    assert all(Path(p).stat().st_size > 0 for p in printed)


def svg_texts(path: Path) -> list[str]:
    """The text matplotlib drew in an SVG figure (it writes each text as a comment beside its glyphs)."""
    return re.findall(r"<!-- (.*?) -->", path.read_text())


def test_figures_and_tables_of_the_jpeg_copy_are_labelled_as_such(tmp_path):
    """Results on `cifar10-jpeg` must never pass for the official CIFAR-10: every figure title and table
    heading reads "CIFAR-10 (JPEG copy)", not the registry name only."""
    hp = replace(TINY, dataset=DatasetHparams("cifar10-jpeg"))
    data = make_splits(shape=(1, 10, 10))
    with Experiment(hp, tmp_path / "runs", data=data, progress=False, test_curve=True) as exp:  # Figures 3 and 7
        run_experiment(exp, 1, 1, reinit_draws=1)
        folder = exp.paths.folder
    label = "CIFAR-10 (JPEG copy)"
    make_report([folder], tmp_path / "report", fmt="svg")
    for name in ("fig1.svg", "fig3.svg", "fig4.svg"):
        assert f"lenet_300_100 on {label}, 1 trial ({folder.name})" in svg_texts(tmp_path / "report" / name)
    assert f"### lenet_300_100 on {label}, 1 trial ({folder.name})" in (tmp_path / "report" / "table.md").read_text()
    assert main(["compare", str(folder), "--out", str(tmp_path / "fig5.svg")]) == 0
    assert label in svg_texts(tmp_path / "fig5.svg")
    assert main(["iterations", str(folder), "--at", "10", "--out", str(tmp_path / "fig7.svg")]) == 0
    assert label in svg_texts(tmp_path / "fig7.svg")
    tiny = DatasetHparams("tiny")  # any other data set keeps its registry name
    assert experiment_title("x", replace(hp, dataset=tiny), 2) == "lenet_300_100 on tiny, 2 trials (x)"


def test_a_figure_draws_its_branches_run_at_other_settings_next_to_them():
    present = {"ticket", "reinit", "reinit-iterations20000", "random", "snip", "snip-batches4"}
    assert figure_kinds(present, 4) == ("ticket", "reinit", "reinit-iterations20000")
    assert figure_kinds(present, 1) == ("ticket", "random")


def test_early_stops_at_the_end_of_the_budget_are_listed_under_the_tables(tmp_path):
    """A run whose validation loss still falls at the end stops early at its last evaluation: the tables
    say which levels, in how many runs, and which flag gives a control a longer budget, or which run of the
    same control already trained longer."""
    short = replace(TINY, training=replace(TINY.training, lr=1e-4, iterations=20))  # still learning at 20
    with Experiment(short, tmp_path / "runs", data=make_splits(shape=(1, 10, 10)), progress=False) as exp:
        run_experiment(exp, 1, 1, reinit_draws=1)
        folder = exp.paths.folder
    make_report([folder], tmp_path / "report")
    text = (tmp_path / "report" / "table.md").read_text()
    late = text.split("Early stops at the end of the budget")[1]
    assert "* ticket level 0: 1 of 1 runs stop early in the last tenth of their iterations (20 of 20)" in late
    assert "reinit level 1: 1 of 1 runs" in late and "(--reinit-iterations N)" in late
    with Experiment(short, tmp_path / "runs", data=make_splits(shape=(1, 10, 10)), progress=False) as exp:
        run_experiment(exp, 1, 1, reinit_draws=Draws(1, ControlSettings(60)))  # the same control, trained longer
    make_report([folder], tmp_path / "report")
    late = (tmp_path / "report" / "table.md").read_text().split("Early stops at the end of the budget")[1]
    (line,) = [line for line in late.splitlines() if line.startswith("* reinit level 1:")]
    assert line.endswith("(20 of 20); reinit-iterations60 trains them longer")
    with Experiment(short, tmp_path / "runs", data=make_splits(shape=(1, 10, 10)), progress=False) as exp:
        run_experiment(exp, 1, 1, reinit_draws=Draws(1, ControlSettings(80)))  # and longer still
    make_report([folder], tmp_path / "report")
    late = (tmp_path / "report" / "table.md").read_text().split("Early stops at the end of the budget")[1]
    (line,) = [line for line in late.splitlines() if line.startswith("* reinit level 1:")]
    assert line.endswith("(20 of 20); reinit-iterations60, reinit-iterations80 train them longer")
