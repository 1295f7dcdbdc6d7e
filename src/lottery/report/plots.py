"""Matplotlib figures of aggregated levels (Pm on a log axis, decreasing left to right as in the paper)."""

import io
from dataclasses import astuple, replace
from pathlib import Path

from ..experiments.branches import Style, find_branch, split_kind
from ..storage import atomic_write
from .results import LevelStats


class _LazyPyplot:
    """matplotlib.pyplot (Agg backend), imported on first use: commands that draw nothing start ~0.5 s faster."""

    def __getattr__(self, name: str):
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot

        return getattr(matplotlib.pyplot, name)


plt = _LazyPyplot()

# Figures that draw one colour per experiment tell the ticket and its reinit control apart by line style.
BRANCH_LINES = {"ticket": "-", "reinit": "--"}


def style(kind: str) -> Style:
    """The registered branch's colour, marker and label (a branch not registered: grey crosses). A kind
    ``<name>-<settings>`` (a branch run with non-default settings) is drawn in the branch's colour with
    diamonds, its settings added to the label, so that it stands apart from the branch's default run."""
    branch = find_branch(kind)
    if branch is None:
        return Style("gray", "x", kind)
    settings = split_kind(kind)[1]
    return replace(branch.style, marker="D", label=f"{branch.style.label} ({settings})") if settings else branch.style


# One branch run at several settings in one figure (e.g. reinit-iterations20000 and reinit-iterations30000):
# the first keeps style()'s diamonds on a solid line, the next ones these, so that the legend tells them apart.
MORE_SETTINGS = (("D", "-"), ("^", "--"), ("v", ":"), ("P", "-."))


def line_styles(kinds) -> dict[str, tuple[str, str, str, str]]:
    """(colour, marker, line style, label) of each kind drawn in one figure, in the order given."""
    out = {}
    runs_at_settings: dict[str, int] = {}  # branch -> how many of its kinds at other settings came before
    for kind in kinds:
        color, marker, label = astuple(style(kind))
        linestyle = "-"
        name, settings = split_kind(kind)
        if settings and find_branch(kind) is not None:
            k = runs_at_settings.get(name, 0)
            runs_at_settings[name] = k + 1
            marker, linestyle = MORE_SETTINGS[k % len(MORE_SETTINGS)]
        out[kind] = (color, marker, linestyle, label)
    return out


def pm_axis(ax, densities: list[float]) -> None:
    from matplotlib.ticker import FixedLocator, NullLocator

    ax.set_xscale("log")
    ticks = sorted(set(round(100 * d, 1) for d in densities), reverse=True)
    ax.xaxis.set_major_locator(FixedLocator(ticks))
    ax.xaxis.set_minor_locator(NullLocator())
    ax.set_xticklabels([f"{t:g}" for t in ticks], rotation=45, fontsize=7)
    ax.set_xlim(max(ticks) * 1.15, min(ticks) / 1.15)  # Pm decreasing left to right
    ax.set_xlabel("Percent of weights remaining (Pm)")
    ax.grid(alpha=0.3)


def plot_metric(ax, levels: list[LevelStats], key: str, scale: float = 1.0, ylabel: str = "") -> None:
    styles = line_styles(dict.fromkeys(ls.branch for ls in levels))
    for branch, (color, marker, linestyle, label) in styles.items():
        rows = sorted((ls for ls in levels if ls.branch == branch), key=lambda ls: -ls.density)
        x = [100 * ls.density for ls in rows]
        y = [scale * ls.stats[key].mean for ls in rows]
        err = [
            [scale * (ls.stats[key].mean - ls.stats[key].low) for ls in rows],
            [scale * (ls.stats[key].high - ls.stats[key].mean) for ls in rows],
        ]
        ax.errorbar(
            x, y, yerr=err, color=color, marker=marker, linestyle=linestyle, markersize=4, capsize=3, label=label
        )
    pm_axis(ax, [ls.density for ls in levels])
    ax.set_ylabel(ylabel)


def summary_figure(levels: list[LevelStats], title: str, path: Path) -> Path:
    """Early-stop iteration and test accuracy at early stop vs Pm (the paper's Figure 1/4 panels)."""
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6), constrained_layout=True)
    plot_metric(axes[0], levels, "early_stop_iteration", ylabel="Early-stop iteration (val. loss)")
    plot_metric(axes[1], levels, "test_acc_at_early_stop", 100, ylabel="Test accuracy at early stop (%)")
    axes[1].legend(fontsize=8)
    fig.suptitle(title, fontsize=10)
    return save_figure(fig, path)


def save_figure(fig, path: Path, dpi: int = 150) -> Path:
    """Write ``fig`` atomically (creating the folder; a crash leaves the previous file or none, never
    a partial one) and free it. The format is the file's suffix."""
    path = Path(path)
    buffer = io.BytesIO()
    try:
        fig.savefig(buffer, format=path.suffix.lstrip(".") or None, dpi=dpi)
    finally:
        plt.close(fig)
    atomic_write(path, buffer.getvalue())
    return path
