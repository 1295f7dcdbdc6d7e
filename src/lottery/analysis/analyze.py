"""`lottery analyze`: ticket anatomy of experiment folders -- per-layer density by level, mask overlaps,
start values of kept vs pruned weights, growth of kept weights, input connectivity -- as figures plus
``analysis.md`` and ``analysis.csv``. A thin layer over the plain functions of anatomy.py and overlap.py."""

import csv
import io
import itertools
import statistics
from pathlib import Path

import torch

from ..errors import LotteryError, UsageError
from ..experiments.layout import TICKET
from ..pruning import layer_density
from ..report.figures import default_curve_levels
from ..experiments.branches import branch_kind, branch_order
from ..experiments.folder import ExperimentFolder, check_distinct
from ..storage import output_folder, save_text
from ..experiments.at_init import REINIT as AT_INIT_REINIT, at_init_branch
from ..report.plots import style
from . import anatomy, figures
from .overlap import expected_random_jaccard, jaccard

ONESHOT = "oneshot"
CSV_HEADER = ["experiment", "analysis", "branch", "level", "layer", "statistic", "value"]


class Analysis:
    """The numbers and figures of one experiment folder."""

    def __init__(self, folder: Path, levels: list[int] | None = None):
        self.exp = ExperimentFolder(Path(folder))
        self.trials = [t for t in self.exp.trials() if self.exp.ticket_levels(t)]
        if not self.trials:
            raise LotteryError(f"{folder} has no finished ticket levels yet; nothing to analyze")
        # levels every trial finished: comparisons across trials need all of them
        self.ticket_levels = sorted(set.intersection(*(set(self.exp.ticket_levels(t)) for t in self.trials)))
        pruned = [k for k in self.ticket_levels if k > 0]
        if levels is None:
            self.chosen = default_curve_levels(pruned, 3)
        else:
            missing = sorted(set(levels) - set(pruned))
            if missing:
                raise UsageError(
                    f"--levels: level(s) {', '.join(map(str, missing))} are not pruned ticket levels "
                    f"finished in every trial of {folder} "
                    f"(those are: {', '.join(map(str, pruned)) or 'none'})"
                )
            self.chosen = sorted(set(levels))
        self.rows: list[list] = []
        self._masks: dict = {}

    def mask(self, t: int, branch: str, k: int):
        key = (t, branch, k)
        if key not in self._masks:
            self._masks[key] = self.exp.mask(t, branch, k)
        return self._masks[key]

    def add(self, analysis: str, branch: str, level, layer: str, statistic: str, value: float) -> None:
        self.rows.append([self.exp.name, analysis, branch, level, layer, statistic, value])

    # -- per-layer density --------------------------------------------------------------------
    def densities(self) -> dict[str, dict[int, dict[str, float]]]:
        """Branch kind -> level -> layer -> density, mean over trials and control draws."""
        samples: dict[tuple[str, int], list[dict]] = {}
        for t in self.trials:
            for branch in self.exp.branches(t):
                for k in self.exp.levels(t, branch):
                    record = self.exp.record(t, branch, k)
                    per_layer = (record and record.layer_density) or layer_density(self.mask(t, branch, k))
                    samples.setdefault((branch_kind(branch), k), []).append(per_layer)
        out: dict[str, dict[int, dict[str, float]]] = {}
        for (kind, k), members in sorted(samples.items(), key=lambda kv: (branch_order(kv[0][0]), kv[0][1])):
            out.setdefault(kind, {})[k] = {layer: statistics.fmean(m[layer] for m in members) for layer in members[0]}
            for layer, value in out[kind][k].items():
                self.add("layer_density", kind, k, layer, "density", value)
        return out

    # -- overlaps -----------------------------------------------------------------------------
    def _record(self, analysis: str, branch: str, k: int, pairs: list[tuple]) -> dict[str, tuple[float, float]]:
        """Mean Jaccard and mean random expectation over mask pairs, per layer; rows added."""
        measured = [jaccard(a, b) for a, b in pairs]
        expected = [expected_random_jaccard(a, b) for a, b in pairs]
        out = {}
        for layer in measured[0]:
            values = [m[layer] for m in measured]
            out[layer] = (statistics.fmean(values), statistics.fmean(e[layer] for e in expected))
            self.add(analysis, branch, k, layer, "jaccard_mean", out[layer][0])
            self.add(analysis, branch, k, layer, "jaccard_min", min(values))
            self.add(analysis, branch, k, layer, "jaccard_max", max(values))
            self.add(analysis, branch, k, layer, "random_expected", out[layer][1])
        return out

    def overlaps(self) -> dict[str, dict[str, list[tuple[int, float, float]]]]:
        panels: dict[str, dict[str, list]] = {}

        def put(panel: str, k: int, result: dict) -> None:
            for layer, (j, e) in result.items():
                panels.setdefault(panel, {}).setdefault(layer, []).append((k, j, e))

        pruned = [k for k in self.ticket_levels if k > 0]
        if len(self.trials) > 1:
            for k in pruned:
                pairs = [
                    (self.mask(a, TICKET, k), self.mask(b, TICKET, k))
                    for a, b in itertools.combinations(self.trials, 2)
                ]
                put("ticket: between trials", k, self._record("overlap_between_trials", TICKET, k, pairs))
        for k in pruned:
            with_oneshot = [t for t in self.trials if k in self.exp.levels(t, ONESHOT)]
            if with_oneshot:
                pairs = [(self.mask(t, TICKET, k), self.mask(t, ONESHOT, k)) for t in with_oneshot]
                put("ticket vs one-shot (same trial)", k, self._record("overlap_ticket_oneshot", TICKET, k, pairs))
        for k in pruned:
            if k - 1 in self.ticket_levels:
                pairs = [(self.mask(t, TICKET, k - 1), self.mask(t, TICKET, k)) for t in self.trials]
                put("ticket: level k-1 vs k", k, self._record("overlap_successive_levels", TICKET, k, pairs))
        return panels

    def at_init_overlaps(self) -> dict[str, dict[str, list[tuple[int, float, float]]]]:
        """Each pruning-at-initialization kind with a mask of its own (methods, their shuffles and inversions;
        experiments/at_init.py) against the ticket of the same trial and level: one panel per kind."""
        panels: dict[str, dict[str, list]] = {}
        folders: dict[str, list[tuple[int, str]]] = {}
        for t in self.trials:
            for folder in self.exp.branches(t):
                branch = at_init_branch(branch_kind(folder))
                if branch is not None and branch.check != AT_INIT_REINIT:  # reinit trains the method's mask
                    folders.setdefault(branch_kind(folder), []).append((t, folder))
        for kind in sorted(folders, key=branch_order):
            for k in (k for k in self.ticket_levels if k > 0):
                done = [(t, f) for t, f in folders[kind] if k in self.exp.levels(t, f)]
                pairs = [(self.mask(t, TICKET, k), self.mask(t, f, k)) for t, f in done]
                if pairs:
                    for layer, (j, e) in self._record("overlap_ticket_at_init", kind, k, pairs).items():
                        panels.setdefault(f"ticket vs {style(kind).label}", {}).setdefault(layer, []).append((k, j, e))
        return panels

    # -- where tickets start ------------------------------------------------------------------
    def starts(self) -> tuple[dict, dict]:
        """(level -> layer -> (kept, pruned) start values, level -> layer -> |final| - |start| of kept weights),
        pooled over trials."""
        values: dict[int, dict] = {}
        changes: dict[int, dict] = {}
        for k in self.chosen:
            parts = []
            for t in self.trials:
                start, mask = self.exp.start(t), self.mask(t, TICKET, k)
                parts.append(
                    (
                        anatomy.start_values(start, mask),
                        anatomy.magnitude_change(start, self.exp.final(t, TICKET, k), mask),
                    )
                )
            values[k] = {
                layer: tuple(torch.cat([p[0][layer][i] for p in parts]) for i in (0, 1)) for layer in parts[0][0]
            }
            changes[k] = {layer: torch.cat([p[1][layer] for p in parts]) for layer in parts[0][1]}
            for layer, (kept, pruned) in values[k].items():
                for label, v in (("kept", kept), ("pruned", pruned)):
                    if v.numel():
                        self.add("start_values", TICKET, k, layer, f"mean_abs_{label}", float(v.abs().mean()))
                        spread = float(v.std()) if v.numel() > 1 else 0.0
                        self.add("start_values", TICKET, k, layer, f"std_{label}", spread)
                change = changes[k][layer]
                if change.numel():
                    self.add("magnitude_change", TICKET, k, layer, "median", float(change.median()))
                    self.add("magnitude_change", TICKET, k, layer, "fraction_grown", float((change > 0).float().mean()))
        return values, changes

    # -- input connectivity -------------------------------------------------------------------
    def connectivity(self, image_shape=None) -> tuple[str, dict[int, tuple[torch.Tensor, float]]] | None:
        """(input layer, level -> (mean fraction of each pixel's outgoing weights kept, layer density)), or None
        when the layer reading the input is not a pruned fully connected layer on images."""
        first_mask = self.mask(self.trials[0], TICKET, self.ticket_levels[0])
        layer = anatomy.first_image_layer(first_mask, self.exp.initial(self.trials[0]), image_shape)
        if layer is None:
            return None
        maps = {}
        for k in self.chosen:
            fractions = [anatomy.input_connectivity(self.mask(t, TICKET, k)[layer], image_shape) for t in self.trials]
            mean = torch.stack(fractions).mean(0)
            maps[k] = (
                mean,
                statistics.fmean(layer_density({layer: self.mask(t, TICKET, k)[layer]})[layer] for t in self.trials),
            )
            self.add("input_connectivity", TICKET, k, layer, "border_share", anatomy.border_share(mean))
            self.add("input_connectivity", TICKET, k, layer, "pixels_without_kept_weights", int((mean == 0).sum()))
        return layer, maps


def _fmt(value) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def markdown_tables(rows: list[list]) -> str:
    """One table per (analysis, statistic, branch): levels down, layers across."""
    groups: dict[tuple, dict] = {}
    for _, analysis, branch, level, layer, statistic, value in rows:
        groups.setdefault((analysis, branch, statistic), {})[(level, layer)] = value
    parts = []
    for (analysis, branch, statistic), cells in groups.items():
        levels = sorted({k for k, _ in cells})
        layers = list(dict.fromkeys(layer for _, layer in cells))
        lines = [
            f"**{analysis}** · {branch} · {statistic}",
            "",
            "| level | " + " | ".join(layers) + " |",
            "|" + "---|" * (len(layers) + 1),
        ]
        for k in levels:
            lines.append(
                f"| {k} | "
                + " | ".join(_fmt(cells[(k, layer)]) if (k, layer) in cells else "—" for layer in layers)
                + " |"
            )
        parts.append("\n".join(lines))
    return "\n\n".join(parts)


def analyze_experiment(folder: Path, out: Path, levels: list[int] | None = None) -> tuple[list[Path], list[list], str]:
    """Figures of one experiment into ``out``; returns (figures written, CSV rows, Markdown section)."""
    a = Analysis(folder, levels)
    name, written = a.exp.name, []
    trials = f"{len(a.trials)} trial{'s' if len(a.trials) > 1 else ''}"
    written.append(
        figures.density_figure(
            a.densities(), f"Per-layer density by level\n{name} ({trials})", out / "layer_density.png"
        )
    )
    notes = []
    panels = a.overlaps()
    if panels:
        written.append(figures.overlap_figure(panels, f"Mask overlap\n{name} ({trials})", out / "mask_overlap.png"))
    at_init = a.at_init_overlaps()
    if at_init:
        written.append(
            figures.overlap_figure(
                at_init,
                f"Mask overlap with the ticket, pruning at initialization\n{name} ({trials})",
                out / "mask_overlap_at_init.png",
            )
        )
    if len(a.trials) < 2:
        notes.append("one trial: no overlap between trials (run with --trials 2 or more)")
    if not any(ONESHOT in a.exp.branches(t) for t in a.trials):
        notes.append("no one-shot branch: no ticket vs one-shot overlap (run with --oneshot)")
    if a.chosen:
        values, changes = a.starts()
        start_name = "θ0" if not a.exp.hparams.rewind_iteration else f"θ{a.exp.hparams.rewind_iteration}"
        written.append(
            figures.start_figure(
                values,
                f"Start values ({start_name}) of kept vs pruned weights, ticket\n{name} ({trials} pooled)",
                out / "start_values.png",
            )
        )
        written.append(
            figures.change_figure(
                changes,
                f"|θ_final| - |{start_name}| of kept weights, ticket\n{name} ({trials} pooled)",
                out / "magnitude_change.png",
            )
        )
        conn = a.connectivity()
        if conn is None:
            notes.append(
                "the layer reading the input is not a pruned fully connected layer on images: no connectivity map"
            )
        else:
            layer, maps = conn
            written.append(
                figures.connectivity_figure(
                    maps,
                    f"Fraction of each input pixel's outgoing weights kept ({layer}), ticket\n"
                    f"{name} (mean over {trials})",
                    out / "input_connectivity.png",
                )
            )
    else:
        notes.append("no pruned ticket level finished yet: no start-value or connectivity figures")
    section = "\n\n".join(
        [f"## {name}", f"{folder} · {trials} · levels shown in histograms: {', '.join(map(str, a.chosen)) or 'none'}"]
        + [f"- note: {n}" for n in notes]
        + [markdown_tables(a.rows)]
    )
    return written, a.rows, section


def analyze(folders: list[Path], out: Path, levels: list[int] | None = None) -> list[Path]:
    """Write the analysis of each experiment (one experiment: straight into ``out``; several: a subfolder
    each) and ``analysis.md`` / ``analysis.csv`` over all of them. Returns the files written."""
    experiments = [ExperimentFolder(Path(f)) for f in folders]  # every folder checked before any work
    check_distinct([e.name for e in experiments])
    out = output_folder(out, "the analysis")
    written, rows, sections = [], [], []
    for folder, e in zip(folders, experiments):
        files, more_rows, section = analyze_experiment(Path(folder), out if len(folders) == 1 else out / e.name, levels)
        written += files
        rows += more_rows
        sections.append(section)
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    writer.writerows(rows)  # floats at full precision (repr): the CSV is for further computation
    save_text(out / "analysis.csv", text.getvalue())
    intro = (
        "# Ticket anatomy\n\nJaccard: |A ∩ B| / |A ∪ B| of kept sets; random_expected: the same for two random "
        "masks with the same per-layer counts. start values: θ0 (θk when rewinding).\n\n"
    )
    save_text(out / "analysis.md", intro + "\n\n".join(sections) + "\n")
    return written + [out / "analysis.md", out / "analysis.csv"]
