"""`lottery report`: the paper's figures plus Markdown and CSV tables of the same numbers,
for one or several finished (or partly finished) experiments."""

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import LotteryError, UsageError
from ..storage import output_folder, save_text
from ..experiments.branches import find_branch, requestable_branches, split_kind
from ..experiments.folder import check_distinct
from ..experiments.controls import Control
from . import figures
from ..experiments.level_record import REPORTED_SUMMARY, LevelRecord
from ..hparams import ExperimentHparams
from ..training.metrics import Curve
from .labels import experiment_title
from .results import LevelStats, aggregate, by_kind_and_level, load_experiment
from .at_init import at_init_figure

FORMATS = ("png", "svg")
LATE_STOP = 0.9  # an early stop past this share of its run's iterations may be the budget's end, not a minimum
MARKDOWN_COLUMNS = (  # (summary number, scale, format, column title) of the "All numbers" table
    ("early_stop_iteration", 1, "{:.0f}", "early-stop it"),
    ("test_acc_at_early_stop", 100, "{:.2f}", "test acc @ES %"),
    ("train_acc_at_early_stop", 100, "{:.2f}", "train acc @ES %"),
    ("test_acc_final", 100, "{:.2f}", "test acc end %"),
)


@dataclass
class LoadedExperiment:
    folder: Path
    name: str
    hparams: ExperimentHparams
    runs: list[LevelRecord]
    notes: list[str]  # damaged level records left out
    levels: list[LevelStats] = field(init=False)

    def __post_init__(self):
        self.levels = aggregate(self.runs)

    def branches(self) -> set[str]:
        return {ls.branch for ls in self.levels}

    def title(self) -> str:
        return experiment_title(self.name, self.hparams, len({r.trial for r in self.runs}))

    def ticket_levels(self) -> list[int]:
        return sorted(ls.level for ls in self.levels if ls.branch == "ticket")


def load(folder: Path) -> LoadedExperiment:
    results = load_experiment(folder)
    if not results.runs:
        raise LotteryError(f"{folder} has no finished levels yet; nothing to report")
    return LoadedExperiment(Path(folder), results.info.name, results.info.hparams, results.runs, results.notes)


def csv_table(experiments: list[LoadedExperiment]) -> str:
    """Every aggregated number: mean, min and max over trials (and control draws)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(
        ["experiment", "branch", "level", "pm_percent", "runs"]
        + [f"{key}_{s}" for key in REPORTED_SUMMARY for s in ("mean", "min", "max")]
    )
    for e in experiments:
        for ls in e.levels:
            writer.writerow(
                [e.name, ls.branch, ls.level, f"{100 * ls.density:.4g}", ls.trials]
                + [
                    f"{v:.6g}"
                    for key in REPORTED_SUMMARY
                    for v in (ls.stats[key].mean, ls.stats[key].low, ls.stats[key].high)
                ]
            )
    return out.getvalue()


def _cell(ls: LevelStats, key: str, scale: float, fmt: str) -> str:
    """mean [min, max] over the runs (trials x control draws); just the mean for a single run."""
    s = ls.stats[key]
    text = fmt.format(scale * s.mean)
    return text if ls.trials == 1 else f"{text} [{fmt.format(scale * s.low)}, {fmt.format(scale * s.high)}]"


def by_branch_table(levels: list[LevelStats], key: str, scale: float, fmt: str) -> str:
    """One row per ticket level (Pm), one column per branch: the comparison the figures draw."""
    branches = list(dict.fromkeys(ls.branch for ls in levels))
    cells = {(ls.branch, ls.level): _cell(ls, key, scale, fmt) for ls in levels}
    lines = ["| level | Pm % | " + " | ".join(branches) + " |", "|" + "---|" * (len(branches) + 2)]
    for ls in levels:
        if ls.branch == "ticket":
            row = [str(ls.level), f"{100 * ls.density:.3g}"] + [cells.get((b, ls.level), "—") for b in branches]
            lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def late_stops(e: "LoadedExperiment") -> list[str]:
    """One line per (branch, level) some of whose runs stop early in the last tenth of their iterations:
    their validation loss may still have been falling at the end, so their early stop is the budget's, and
    their accuracy that of a network still learning."""
    groups = by_kind_and_level(e.runs)
    ends = {key: [Curve.from_dict(r.curve).iterations[-1] for r in runs] for key, runs in groups.items()}
    lines = []
    for (kind, level), members in groups.items():
        late = [
            (r.summary.early_stop_iteration, end)
            for r, end in zip(members, ends[kind, level])
            if r.summary.early_stop_iteration >= LATE_STOP * end > 0
        ]
        if not late:
            continue
        # the same branch at this level trained longer (a control's own budget): it answers the question
        longer = [
            other
            for other, at in groups
            if at == level
            and split_kind(other)[0] == split_kind(kind)[0]
            and min(ends[other, at]) > max(ends[kind, level])
        ]
        if longer:
            verb = "trains" if len(longer) == 1 else "train"
            advice = f"{', '.join(sorted(longer))} {verb} them longer"
        else:
            branch = find_branch(kind)
            flag = f" ({branch.iterations_flag} N)" if isinstance(branch, Control) else ""  # a control's own budget
            advice = f"a longer budget{flag} would place their minimum"
        stops = ", ".join(f"{stop:,} of {end:,}" for stop, end in sorted(late))
        lines.append(
            f"{kind} level {level}: {len(late)} of {len(members)} runs stop early in the last tenth of their "
            f"iterations ({stops}); {advice}"
        )
    return lines


def experiment_markdown(e: "LoadedExperiment") -> str:
    """Side-by-side comparisons first (test accuracy and early-stop iteration), then every number; then the
    levels whose early stop may be the end of the budget."""
    parts = [
        f"### {e.title()}",
        "Test accuracy at early stop (%), mean [min, max] over runs (trials x control draws):",
        by_branch_table(e.levels, "test_acc_at_early_stop", 100, "{:.2f}"),
        "Early-stop iteration (minimum validation loss), mean [min, max]:",
        by_branch_table(e.levels, "early_stop_iteration", 1, "{:.0f}"),
        "All numbers:",
        markdown_table(e.levels),
    ]
    late = late_stops(e)
    if late:
        parts += ["Early stops at the end of the budget (the validation loss may still have been falling):"]
        parts += ["\n".join(f"* {line}" for line in late)]
    return "\n\n".join(parts)


def markdown_table(levels: list[LevelStats]) -> str:
    """The figures' numbers: mean [min, max] over the runs (trials x control draws) of each level."""
    header = ["branch", "level", "Pm %", "runs"] + [label for *_, label in MARKDOWN_COLUMNS]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for ls in levels:
        cells = [ls.branch, str(ls.level), f"{100 * ls.density:.3g}", str(ls.trials)]
        lines.append("| " + " | ".join(cells + [_cell(ls, k, sc, f) for k, sc, f, _ in MARKDOWN_COLUMNS]) + " |")
    return "\n".join(lines)


def levels_with_test_curves(e: LoadedExperiment) -> list[int]:
    """Finished ticket levels whose every trial recorded its whole test curve (``--test-curve``)."""
    levels = {r.level for r in e.runs if r.branch == "ticket"}
    without = {r.level for r in e.runs if r.branch == "ticket" and not figures.has_test_curve(r)}
    return sorted(levels - without)


def check_curve_levels(e: LoadedExperiment, wanted: list[int] | None) -> list[int]:
    available = e.ticket_levels()
    with_curves = levels_with_test_curves(e)
    if wanted is None:
        return figures.default_curve_levels(with_curves)
    missing = sorted(set(wanted) - set(available))
    if missing:
        raise UsageError(
            f"--levels-for-curves: level(s) {', '.join(map(str, missing))} not finished in {e.folder}; "
            f"finished ticket levels: {', '.join(map(str, available))}"
        )
    untested = sorted(set(wanted) - set(with_curves))
    if untested:
        raise UsageError(
            f"--levels-for-curves: level(s) {', '.join(map(str, untested))} of {e.folder} have no test curve "
            f"(the test set was evaluated only at the early stop and the end); rerun those levels with "
            f"`lottery run ... --test-curve {','.join(map(str, untested))}` into a new --out"
        )
    return list(dict.fromkeys(wanted))


def missing_branch_notes(e: LoadedExperiment) -> list[str]:
    """A note for each of the paper's branches that feeds one of its figures but was not run."""
    present, notes = e.branches(), []
    for branch in requestable_branches():
        if branch.from_paper and branch.figures and branch.name not in present:
            *rest, last = [str(f) for f in branch.figures]
            figure = f"Figures {', '.join(rest)} and {last}" if rest else f"Figure {last}"
            notes.append(
                f"{e.name}: no {branch.name} branch for {figure} (add it with `lottery run ... {branch.usage}`)"
            )
    return notes


def make_report(
    folders: list[Path], out: Path, fmt: str = "png", curve_levels: list[int] | None = None
) -> tuple[list[Path], list[str]]:
    """Write the figures and tables; returns (files written, notes about missing branches and damaged records).
    One experiment: figures go straight into ``out``; several: one subfolder per experiment."""
    if fmt not in FORMATS:
        raise UsageError(f"unknown figure format {fmt!r}; choose one of {', '.join(FORMATS)}")
    experiments = [load(f) for f in folders]
    check_distinct([e.name for e in experiments])
    chosen = [check_curve_levels(e, curve_levels) for e in experiments]  # all checked before drawing
    out = output_folder(out, "the report")
    written, notes = [], []
    for e, levels_for_curves in zip(experiments, chosen):
        where = out if len(experiments) == 1 else out / e.name
        title = e.title()
        written.append(figures.figure1(e.levels, title, where / f"fig1.{fmt}"))
        if levels_for_curves:
            written.append(figures.figure3(e.runs, levels_for_curves, title, where / f"fig3.{fmt}"))
        else:
            notes.append(
                f"{e.name}: no Figure 3 (no ticket level has its whole test curve; run the levels to draw "
                f"with `lottery run ... --test-curve K,L,...`)"
            )
        written.append(figures.figure4(e.levels, title, where / f"fig4.{fmt}"))
        at_init = at_init_figure(e.levels, title, where / f"at_init.{fmt}")  # when SNIP, GraSP or SynFlow ran
        written += [at_init] if at_init else []
        notes += e.notes + missing_branch_notes(e)
    markdown = "\n\n".join(experiment_markdown(e) for e in experiments) + "\n"
    for name, text in (("table.md", markdown), ("table.csv", csv_table(experiments))):
        save_text(out / name, text)
        written.append(out / name)
    return written, notes
