"""Figures 7-8 of Frankle & Carbin: test accuracy vs Pm read at fixed training iterations
(e.g. 30K, 60K, 112K for VGG-19), one panel per iteration count, one line per experiment
(learning rate / warmup setting); the winning ticket solid, random reinitialization dashed.

Accuracies come from the stored learning curves: the evaluation recorded at the iteration, or the
last one before it when the iteration falls between evaluations. That evaluation must have measured
the test set, which every evaluation does in runs made with ``--test-curve``.
"""

import bisect
from dataclasses import dataclass
from pathlib import Path

from ..errors import LotteryError, UsageError
from ..experiments.level_record import LevelRecord
from ..training.metrics import Curve
from .labels import datasets_title
from .plots import BRANCH_LINES, pm_axis, plt, save_figure
from .results import Stat, branch_kind, load_experiment


def accuracy_at(stored: dict, iteration: int) -> float:
    """Test accuracy of a stored learning curve at ``iteration`` (the last evaluation at or before it)."""
    curve = Curve.from_dict(stored)
    its = curve.iterations
    if not its or iteration > its[-1]:
        raise UsageError(
            f"iteration {iteration} is past the end of training "
            f"({its[-1] if its else 0} iterations recorded); choose smaller --at values"
        )
    index = bisect.bisect_right(its, iteration) - 1
    if index < 0:
        raise UsageError(f"iteration {iteration} is before the first evaluation at iteration {its[0]}")
    accuracy = curve.series["test_acc"].at(its[index])
    if accuracy is None:
        raise UsageError(
            f"iteration {iteration}: the evaluation at iteration {its[index]} did not measure the test set "
            "(only the early stop and the end are tested by default); run with --test-curve to read "
            "test accuracy at any evaluation"
        )
    return accuracy


@dataclass
class Point:
    branch: str  # branch kind: ticket, reinit, ...
    level: int
    density: float
    accuracy: Stat  # over trials (and control draws)


def points_at(runs: list[LevelRecord], iteration: int, branches: tuple[str, ...] = tuple(BRANCH_LINES)) -> list[Point]:
    """Test accuracy at ``iteration`` per (branch kind, level), aggregated over trials."""
    groups: dict[tuple[str, int], list[LevelRecord]] = {}
    for run in runs:
        kind = branch_kind(run.branch)
        if kind in branches:
            groups.setdefault((kind, run.level), []).append(run)
    return [
        Point(
            kind,
            level,
            sum(r.density for r in members) / len(members),
            Stat.of([accuracy_at(r.curve, iteration) for r in members]),
        )
        for (kind, level), members in sorted(groups.items())
    ]


def iteration_text(n: int) -> str:
    """30000 -> '30K', 500 -> '500'."""
    return f"{n // 1000}K" if n >= 1000 and n % 1000 == 0 else f"{n:,}"


def setting_label(hparams: dict) -> str:
    """What tells Figure 7/8's lines apart: learning rate, warmup, rewinding."""
    t = hparams["training"]
    label = f"rate {t['lr']:g}"
    if t.get("warmup"):
        label += f", warmup {iteration_text(t['warmup'])}"
    if hparams.get("rewind_iteration"):
        label += f", rewind to it {hparams['rewind_iteration']}"
    return label


def iterations_figure(folders: list[Path], iterations: list[int], path: Path, title: str = "") -> Path:
    """One panel per iteration count; each experiment folder is one line (plus its reinit control)."""
    if not iterations:
        raise UsageError("give at least one iteration count to read the accuracy at")
    experiments, hparams = [], []
    for folder in folders:
        results = load_experiment(folder)
        if not results.runs:
            raise LotteryError(f"{folder} has no finished levels yet; nothing to plot")
        experiments.append((setting_label(results.info.hparams.to_dict()), results.runs))
        hparams.append(results.info.hparams)

    fig, axes = plt.subplots(
        1, len(iterations), figsize=(4.2 * len(iterations), 3.6), squeeze=False, constrained_layout=True
    )
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for ax, iteration in zip(axes[0], iterations):
        densities = []
        for i, (label, runs) in enumerate(experiments):
            points = points_at(runs, iteration)
            dense = [p for p in points if p.branch == "ticket" and p.level == 0]
            for kind, style in BRANCH_LINES.items():
                rows = sorted((p for p in points if p.branch == kind), key=lambda p: -p.density)
                if not rows:
                    continue
                if kind != "ticket" and rows[0].level != 0:
                    rows = dense + rows  # controls start from the same dense network, as in the paper
                densities += [p.density for p in rows]
                mean = [100 * p.accuracy.mean for p in rows]
                err = [
                    [m - 100 * p.accuracy.low for m, p in zip(mean, rows)],
                    [100 * p.accuracy.high - m for m, p in zip(mean, rows)],
                ]
                ax.errorbar(
                    [100 * p.density for p in rows],
                    mean,
                    yerr=err,
                    color=colors[i % len(colors)],
                    linestyle=style,
                    marker="o" if kind == "ticket" else "s",
                    markersize=3,
                    capsize=2,
                    label=label if kind == "ticket" else f"{label} (reinit)",
                )
        if not densities:
            raise LotteryError("no ticket or reinit levels to plot")
        pm_axis(ax, densities)
        ax.set_title(f"{iteration_text(iteration)} iterations", fontsize=9)
        ax.set_ylabel("Test accuracy (%)")
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=min(len(labels), 4), fontsize=7, frameon=False)
    fig.suptitle(title or datasets_title(hparams), fontsize=10)
    return save_figure(fig, path)
