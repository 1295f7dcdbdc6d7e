"""Figure 5 of Frankle & Carbin: several networks on shared axes (Conv-2/4/6 in the paper).

Panels: early-stop iteration, test accuracy at early stop and train accuracy at the end of
training, each vs Pm. One color per experiment folder; the winning ticket solid, the random
reinitialization control dashed (when the experiment ran it), and dotted, then dash-dotted, where it ran
at budgets of its own (``reinit-iterations20000``, ``reinit-iterations30000``). Points are means over trials and
control draws with min/max error bars.
"""

from dataclasses import dataclass
from pathlib import Path

from ..errors import LotteryError, UsageError
from ..experiments.branches import branch_order, split_kind
from ..experiments.folder import read_experiment_info

from .plots import BRANCH_LINES, pm_axis, plt, save_figure
from .labels import datasets_title
from .results import LevelStats, Stat, aggregate, load_experiment

# controls at budgets of their own, in branch order: each its own line and marker, so the legend tells them apart
OWN_BUDGET_LINES = ((":", "s"), ("-.", "^"), ((0, (1, 3)), "v"), ((0, (5, 2, 1, 2, 1, 2)), "D"))

PANELS = (
    ("early_stop_iteration", 1, "Early-stop iteration (val. loss)"),
    ("test_acc_at_early_stop", 100, "Test accuracy at early stop (%)"),
    ("train_acc_final", 100, "Train accuracy at end of training (%)"),
)


@dataclass
class Series:
    label: str  # the experiment's network, e.g. "conv4" or "conv4 dropout 0.5"
    branch: str  # ticket | reinit | reinit-<settings>
    density: list[float]  # Pm, decreasing
    stats: dict[str, list[Stat]]  # summary key -> one Stat per density


def experiment_label(hparams: dict) -> str:
    label = hparams["model"]["name"]
    if hparams["model"].get("dropout"):
        label += f" dropout {hparams['model']['dropout']:g}"
    return label


def series_of(label: str, levels: list[LevelStats]) -> list[Series]:
    """The ticket line and, when present, the reinit lines (``reinit``, and a reinit run at its own budget,
    ``reinit-iterations20000``) starting from the shared dense network."""
    dense = [ls for ls in levels if ls.branch == "ticket" and ls.level == 0]
    kinds = sorted({ls.branch for ls in levels if split_kind(ls.branch)[0] in BRANCH_LINES}, key=branch_order)
    out = []
    for branch in kinds:
        rows = [ls for ls in levels if ls.branch == branch]
        if not rows:
            continue
        if branch != "ticket" and not any(ls.level == 0 for ls in rows):
            rows = dense + rows  # controls have no dense level of their own
        rows.sort(key=lambda ls: -ls.density)
        out.append(
            Series(
                label,
                branch,
                [ls.density for ls in rows],
                {key: [ls.stats[key] for ls in rows] for key, _, _ in PANELS},
            )
        )
    return out


def compare_series(folders: list[Path]) -> list[Series]:
    """Lines of every experiment; labels are made unique with the folder name when nets repeat."""
    loaded = []
    for folder in folders:
        results = load_experiment(folder)
        if not results.runs:
            raise LotteryError(f"{folder} has no finished levels yet; nothing to plot")
        loaded.append((Path(folder), experiment_label(results.info.hparams.to_dict()), aggregate(results.runs)))
    labels = [label for _, label, _ in loaded]
    out = []
    for folder, label, levels in loaded:
        if labels.count(label) > 1:
            label = f"{label} ({folder.name})"
        out += series_of(label, levels)
    return out


def series_styles(series: list[Series]) -> list[tuple[object, str]]:
    """(linestyle, marker) of each series: the ticket solid with circles, the reinit control dashed with
    squares, and each control at a budget of its own of a net the next of ``OWN_BUDGET_LINES``."""
    styles: list[tuple[object, str]] = []
    own_budget: dict[str, int] = {}  # net label -> how many of its own-budget lines are drawn so far
    for s in series:
        if s.branch in BRANCH_LINES:
            styles.append((BRANCH_LINES[s.branch], "o" if s.branch == "ticket" else "s"))
        else:
            k = own_budget.get(s.label, 0)
            own_budget[s.label] = k + 1
            styles.append(OWN_BUDGET_LINES[k % len(OWN_BUDGET_LINES)])
    return styles


def _thin_ticks(ax, min_ratio: float = 1.1) -> None:
    """Nets reach different Pm at each level; drop ticks too close to the previous one to be legible."""
    from matplotlib.ticker import FixedLocator

    kept: list[float] = []
    for tick in sorted(ax.get_xticks(), reverse=True):
        if not kept or kept[-1] / tick >= min_ratio:
            kept.append(tick)
    ax.xaxis.set_major_locator(FixedLocator(kept))
    ax.set_xticklabels([f"{t:g}" for t in kept], rotation=45, fontsize=7)


def figure5(folders: list[Path], path: Path, title: str = "") -> Path:
    if not folders:
        raise UsageError("give at least one experiment folder to compare")
    series = compare_series(folders)
    hparams = [read_experiment_info(folder).hparams for folder in folders]
    fig, axes = plt.subplots(1, len(PANELS), figsize=(4.2 * len(PANELS), 3.6), constrained_layout=True)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    color_of = {label: colors[i % len(colors)] for i, label in enumerate(dict.fromkeys(s.label for s in series))}
    styles = series_styles(series)
    for ax, (key, scale, ylabel) in zip(axes, PANELS):
        for s, (linestyle, marker) in zip(series, styles):
            mean = [scale * st.mean for st in s.stats[key]]
            err = [
                [m - scale * st.low for m, st in zip(mean, s.stats[key])],
                [scale * st.high - m for m, st in zip(mean, s.stats[key])],
            ]
            ax.errorbar(
                [100 * d for d in s.density],
                mean,
                yerr=err,
                color=color_of[s.label],
                linestyle=linestyle,
                marker=marker,
                markersize=3,
                capsize=2,
                label=s.label if s.branch == "ticket" else f"{s.label} ({s.branch})",
            )
        pm_axis(ax, [d for s in series for d in s.density])
        _thin_ticks(ax)
        ax.set_ylabel(ylabel)
    axes[-1].legend(fontsize=7)
    fig.suptitle(title or datasets_title(hparams), fontsize=10)
    return save_figure(fig, path)
