"""Figures of ticket anatomy, drawn from plain numbers (any model, any source of masks)."""

import math
from pathlib import Path

import numpy as np
import torch

from matplotlib.ticker import FuncFormatter, MaxNLocator

from ..report.plots import plt, save_figure, style


def _layer_colors(layers: list[str]):
    return dict(zip(layers, plt.get_cmap("tab10")(np.arange(len(layers)) % 10)))


def _two_and_five(value: float, _) -> str:
    """Minor tick labels of a log axis at 2 and 5 times a power of ten only (readable over several decades)."""
    lead = value / 10 ** math.floor(math.log10(value)) if value > 0 else 0
    return f"{value:g}" if round(lead) in (2, 5) else ""


def density_figure(densities: dict[str, dict[int, dict[str, float]]], title: str, path: Path) -> Path:
    """One panel per branch: each layer's density (% of its weights kept) by level, log scale."""
    branches = list(densities)
    layers = list(dict.fromkeys(name for by_level in densities.values() for d in by_level.values() for name in d))
    colors = _layer_colors(layers)
    fig, axes = plt.subplots(
        1, len(branches), figsize=(3.4 * len(branches) + 1, 3.2), sharey=True, constrained_layout=True, squeeze=False
    )
    for ax, branch in zip(axes[0], branches):
        levels = sorted(densities[branch])
        for layer in layers:
            points = [(k, 100 * densities[branch][k][layer]) for k in levels if layer in densities[branch][k]]
            if points:
                ax.plot(*zip(*points), marker="o", markersize=3, color=colors[layer], label=layer)
        ax.set_yscale("log")
        ax.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
        ax.yaxis.set_minor_formatter(FuncFormatter(_two_and_five))
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_title(style(branch).label, fontsize=9)
        ax.set_xlabel("Pruning level")
        ax.grid(alpha=0.3)
    axes[0, 0].set_ylabel("Weights kept in the layer (%)")
    axes[0, -1].legend(fontsize=7)
    fig.suptitle(title, fontsize=9)
    return save_figure(fig, path)


def overlap_figure(panels: dict[str, dict[str, list[tuple[int, float, float]]]], title: str, path: Path) -> Path:
    """One panel per comparison, one colour per layer (and "all"): Jaccard by level (solid) and what two
    random masks of the same per-layer counts would give (dashed). ``panels[title][layer]`` = [(level, J, J_random)]."""
    layers = list(dict.fromkeys(layer for lines in panels.values() for layer in lines))
    colors = _layer_colors(layers)
    fig, axes = plt.subplots(
        1, len(panels), figsize=(3.6 * len(panels) + 0.6, 3.3), sharey=True, constrained_layout=True, squeeze=False
    )
    for ax, (name, lines) in zip(axes[0], panels.items()):
        for layer, points in lines.items():
            points = sorted(points)
            x = [p[0] for p in points]
            width = 2.2 if layer == "all" else 1.2
            ax.plot(x, [p[1] for p in points], marker="o", markersize=3, color=colors[layer], lw=width, label=layer)
            ax.plot(x, [p[2] for p in points], linestyle="--", color=colors[layer], lw=0.9)
        ax.set_title(name, fontsize=9)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("Pruning level")
        ax.set_ylim(0, 1.02)
        ax.grid(alpha=0.3)
    axes[0, 0].set_ylabel("Jaccard (dashed: random masks)")
    axes[0, -1].legend(fontsize=7)
    fig.suptitle(title, fontsize=9)
    return save_figure(fig, path)


def _histogram_grid(
    samples: dict[int, dict[str, list[tuple[torch.Tensor, str, str]]]],
    xlabel: str,
    title: str,
    path: Path,
    zero_line: bool = False,
) -> Path:
    levels = sorted(samples)
    layers = list(dict.fromkeys(layer for by_layer in samples.values() for layer in by_layer))
    fig, axes = plt.subplots(
        len(levels),
        len(layers),
        figsize=(2.7 * len(layers) + 0.4, 1.9 * len(levels) + 0.6),
        constrained_layout=True,
        squeeze=False,
        sharex="col",
    )
    for row, level in enumerate(levels):
        for col, layer in enumerate(layers):
            ax = axes[row, col]
            series = samples[level].get(layer, [])
            values = [v for v, *_ in series if v.numel()]
            if values:
                edges = np.histogram_bin_edges(torch.cat(values).numpy(), bins=60)
                for v, label, color in series:
                    if v.numel():
                        ax.hist(v.numpy(), bins=edges, density=True, histtype="step", color=color, label=label)
            if zero_line:
                ax.axvline(0, color="black", lw=0.6, alpha=0.6)
            ax.set_yticks([])
            ax.tick_params(labelsize=6)
            if row == 0:
                ax.set_title(layer, fontsize=8)
            if col == 0:
                ax.set_ylabel(f"level {level}", fontsize=8)
            if row == len(levels) - 1:
                ax.set_xlabel(xlabel, fontsize=7)
    handles, labels = axes[0, 0].get_legend_handles_labels()
    if handles:
        fig.legend(handles, labels, loc="outside lower center", ncol=len(labels), fontsize=7, frameon=False)
    fig.suptitle(title, fontsize=9)
    return save_figure(fig, path)


def start_figure(values: dict[int, dict[str, tuple[torch.Tensor, torch.Tensor]]], title: str, path: Path) -> Path:
    """Rows: levels; columns: layers; histograms (each normalized) of the start values of kept and pruned weights.
    ``values[level][layer]`` = (kept, pruned), as :func:`anatomy.start_values` returns them."""
    samples = {
        level: {
            layer: [(kept, "kept", "tab:blue"), (pruned, "pruned", "tab:gray")]
            for layer, (kept, pruned) in by_layer.items()
        }
        for level, by_layer in values.items()
    }
    return _histogram_grid(samples, "start value", title, path)


def change_figure(changes: dict[int, dict[str, torch.Tensor]], title: str, path: Path) -> Path:
    """Rows: levels; columns: layers; histogram of |θ_final| - |θ_start| of kept weights."""
    samples = {
        level: {layer: [(v, "kept weights", "tab:purple")] for layer, v in by_layer.items()}
        for level, by_layer in changes.items()
    }
    return _histogram_grid(samples, "|final| - |start|", title, path, zero_line=True)


def connectivity_figure(maps: dict[int, tuple[torch.Tensor, float]], title: str, path: Path) -> Path:
    """One heatmap per level: the fraction of each input pixel's outgoing weights that are kept.
    ``maps[level]`` = (height x width fractions, as :func:`anatomy.input_connectivity` gives them; Pm of the layer)."""
    levels = sorted(maps)
    fig, axes = plt.subplots(
        1, len(levels), figsize=(2.5 * len(levels) + 0.5, 2.8), constrained_layout=True, squeeze=False
    )
    for ax, level in zip(axes[0], levels):
        fractions, layer_density = maps[level]
        image = ax.imshow(fractions.numpy(), cmap="viridis", vmin=0)
        ax.set_title(f"level {level}: layer keeps {100 * layer_density:.3g}%", fontsize=8)
        ax.set_xticks([])
        ax.set_yticks([])
        fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04).ax.tick_params(labelsize=6)
    fig.suptitle(title, fontsize=9)
    return save_figure(fig, path)
