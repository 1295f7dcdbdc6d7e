"""The figure of pruning at initialization (experiments/at_init.py) against the ticket, drawn when an
experiment ran SNIP, GraSP or SynFlow: one column per method with its sanity checks, the ticket and random
pruning (when run) for reference; test accuracy at early stop (top) and early-stop iteration (bottom) vs Pm."""

from pathlib import Path

from ..experiments.at_init import METHODS, AtInit, at_init_branch
from ..experiments.layout import TICKET
from .figures import PAPER_DPI, PAPER_STYLE, with_dense_start
from .plots import plot_metric, plt, save_figure
from .results import LevelStats

REFERENCES = (TICKET, "random")  # drawn in every column when the experiment has them


def at_init_figure(levels: list[LevelStats], title: str, path: Path) -> Path | None:
    """Write the figure; None (nothing written) when no pruning-at-initialization branch was run."""
    kinds = list(dict.fromkeys(ls.branch for ls in levels))
    columns: dict[str, list[str]] = {}
    for kind in kinds:
        branch = at_init_branch(kind)
        if branch is not None:
            columns.setdefault(branch.method, []).append(kind)
    if not columns:
        return None
    references = tuple(k for k in REFERENCES if k in kinds)
    methods = [m for m in METHODS if m in columns]
    with plt.rc_context({**PAPER_STYLE, "figure.constrained_layout.use": True}):
        fig, axes = plt.subplots(2, len(methods), figsize=(3.2 * len(methods) + 0.5, 5.6), sharey="row", squeeze=False)
        for col, method in enumerate(methods):
            data = with_dense_start(levels, references + tuple(columns[method]))
            plot_metric(axes[0, col], data, "test_acc_at_early_stop", 100, ylabel="Test accuracy at early stop (%)")
            plot_metric(axes[1, col], data, "early_stop_iteration", ylabel="Early-stop iteration")
            axes[0, col].set_title(AtInit.LABELS[method])
            axes[0, col].legend(fontsize=6)
        fig.suptitle(f"Pruning at initialization vs the winning ticket (IMP), with sanity checks\n{title}")
        return save_figure(fig, path, dpi=PAPER_DPI)
