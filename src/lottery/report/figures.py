"""The paper's figures (Frankle & Carbin 2019) drawn from one experiment's results.

* Figure 1: early-stop iteration and test accuracy at early stop vs Pm, tickets vs random pruning;
* Figure 3: test accuracy over training iterations at chosen levels, tickets and random reinit;
* Figure 4: early-stop iteration, test and train accuracy at early stop and test accuracy at the
  end vs Pm, iterative pruning vs random reinit vs one-shot pruning.

Pm axes are log-scaled and decrease left to right, points are means over trials (and control
draws) with min/max error bars. Controls have no level 0 of their own (the dense network is shared),
so their lines start from the ticket's dense point, as in the paper.
"""

from dataclasses import replace
from pathlib import Path

import numpy as np

from ..experiments.branches import branch_order, figure_branches, split_kind
from ..experiments.level_record import LevelRecord
from ..training.metrics import Curve
from .plots import plot_metric, plt, save_figure, style
from .results import LevelStats, by_kind_and_level

# Sizes for a figure printed at about its own size in a paper (inches; fonts in points).
PAPER_STYLE = {
    "font.size": 8,
    "axes.titlesize": 9,
    "axes.labelsize": 8,
    "legend.fontsize": 7,
    "xtick.labelsize": 7,
    "ytick.labelsize": 7,
    "lines.linewidth": 1.3,
}
PAPER_DPI = 200

FIG4_PANELS = (
    ("early_stop_iteration", 1, "Early-stop iteration"),
    ("test_acc_at_early_stop", 100, "Test accuracy at early stop (%)"),
    ("train_acc_at_early_stop", 100, "Train accuracy at early stop (%)"),
    ("test_acc_final", 100, "Test accuracy at end of training (%)"),
)


def figure_kinds(present, figure: int) -> tuple[str, ...]:
    """The kinds of ``present`` drawn in the paper's Figure ``figure``: its branches, each with its runs at
    other settings next to it (``reinit-iterations20000`` after ``reinit``), in report order."""
    names = figure_branches(figure)
    return tuple(sorted({k for k in present if split_kind(k)[0] in names}, key=branch_order))


def with_dense_start(levels: list[LevelStats], branches: tuple[str, ...]) -> list[LevelStats]:
    """The levels of ``branches``, each control line starting at the ticket's dense level 0."""
    chosen = [ls for ls in levels if ls.branch in branches]
    dense = next((ls for ls in chosen if ls.branch == "ticket" and ls.level == 0), None)
    if dense is None:
        return chosen
    present = {ls.branch for ls in chosen}
    starts = [
        replace(dense, branch=b)
        for b in branches
        if b != "ticket" and b in present and not any(ls.branch == b and ls.level == 0 for ls in chosen)
    ]
    return sorted(chosen + starts, key=lambda ls: (branches.index(ls.branch), ls.level))


def _shared_legend(fig, ax) -> None:
    """One legend for the whole figure, below the panels, where it hides no data."""
    handles, labels = ax.get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=min(len(labels), 6), frameon=False)


def _save(fig, path: Path) -> Path:
    return save_figure(fig, path, dpi=PAPER_DPI)


def figure1(levels: list[LevelStats], title: str, path: Path) -> Path:
    data = with_dense_start(levels, figure_kinds({ls.branch for ls in levels}, 1))
    with plt.rc_context(PAPER_STYLE):
        fig, axes = plt.subplots(1, 2, figsize=(6.5, 2.9), constrained_layout=True)
        plot_metric(axes[0], data, "early_stop_iteration", ylabel="Early-stop iteration")
        plot_metric(axes[1], data, "test_acc_at_early_stop", 100, ylabel="Test accuracy at early stop (%)")
        _shared_legend(fig, axes[0])
        fig.suptitle(f"Figure 1: winning tickets vs random sparse subnetworks\n{title}")
        return _save(fig, path)


def figure4(levels: list[LevelStats], title: str, path: Path) -> Path:
    data = with_dense_start(levels, figure_kinds({ls.branch for ls in levels}, 4))
    with plt.rc_context(PAPER_STYLE):
        fig, axes = plt.subplots(2, 2, figsize=(6.5, 5.3), constrained_layout=True)
        for ax, (key, scale, label) in zip(axes.flat, FIG4_PANELS):
            plot_metric(ax, data, key, scale, ylabel=label)
        _shared_legend(fig, axes[0, 0])
        fig.suptitle(f"Figure 4: iterative pruning vs random reinit vs one-shot pruning\n{title}")
        return _save(fig, path)


def mean_curve(curves: list[dict], key: str = "test_acc") -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(iterations, mean, min, max) of ``key`` over curves (stored records), on the iterations where
    every curve measured it."""
    series = [Curve.from_dict(c).series[key] for c in curves]
    common = sorted(set.intersection(*(set(s.iterations) for s in series)))
    values = np.array([[dict(zip(s.iterations, s.values))[i] for i in common] for s in series])
    return np.array(common), values.mean(0), values.min(0), values.max(0)


def has_test_curve(run: LevelRecord) -> bool:
    """Whether a level's record holds its whole test curve (run with ``--test-curve``)."""
    return Curve.from_dict(run.curve).has_full("test_acc")


def default_curve_levels(available: list[int], count: int = 4) -> list[int]:
    """About ``count`` levels spread evenly from the dense network to the sparsest level."""
    if not available:
        return []
    picks = np.linspace(0, len(available) - 1, min(count, len(available))).round().astype(int)
    return sorted({available[i] for i in picks})


def figure3(runs: list[LevelRecord], curve_levels: list[int], title: str, path: Path) -> Path:
    """Test accuracy during training: one panel per branch kind, one line per chosen level.
    The dense network (level 0) appears in every panel as the shared reference. Only records that
    hold their whole test curve are drawn (see :func:`has_test_curve`)."""
    groups = by_kind_and_level([run for run in runs if has_test_curve(run)])
    panels = figure_kinds({kind for kind, _ in groups}, 3)
    colors = plt.get_cmap("viridis")(np.linspace(0, 0.9, max(len(curve_levels), 1)))
    with plt.rc_context(PAPER_STYLE):
        fig, axes = plt.subplots(
            1,
            len(panels),
            figsize=(max(3.3 * len(panels), 4.6), 2.7),
            sharey=True,
            constrained_layout=True,
            squeeze=False,
        )
        lowest = []
        for ax, branch in zip(axes[0], panels):
            for color, level in zip(colors, curve_levels):
                members = groups.get((branch, level)) or (groups.get(("ticket", 0)) if level == 0 else None)
                if not members:
                    continue
                it, mean, low, high = mean_curve([m.curve for m in members])
                density = 100 * float(np.mean([m.density for m in members]))
                ax.plot(
                    it,
                    100 * mean,
                    color=color,
                    label=f"Pm = {density:.3g}%",
                    linestyle="-" if branch == "ticket" or level == 0 else "--",
                )
                ax.fill_between(it, 100 * low, 100 * high, color=color, alpha=0.15, linewidth=0)
                settled = mean[it >= it[0] + 0.1 * (it[-1] - it[0])]  # past the first 10% of training
                lowest.append(100 * settled.min())
            ax.set_title(style(branch).label)
            ax.set_xlabel("Training iterations")
            ax.grid(alpha=0.3)
        axes[0, 0].set_ylabel("Test accuracy (%)")
        _shared_legend(fig, axes[0, 0])  # colours are the same levels in every panel
        if lowest:  # zoom past the steep start of training, as the paper does
            axes[0, 0].set_ylim(bottom=max(0.0, min(lowest) - 2))
        fig.suptitle(f"Figure 3: test accuracy during training\n{title}")
        return _save(fig, path)
