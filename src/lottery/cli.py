"""The ``lottery`` command line: run experiments, show their tables, draw their figures.

Modules that import torch are imported where a command needs them, and a command's flags that need
them (branches, devices) are added when that command is parsed: `lottery --help` and `lottery presets`
answer without importing torch, which is most of the start-up time of the commands that use it.
"""

import argparse
import dataclasses
import os
import sys
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import LotteryError
from .hparams import ExperimentHparams, default_of, flag_of, int_list
from .presets import describe_presets, get_preset, preset_names
from .settings import parse_non_negative_int, parse_positive_int

if TYPE_CHECKING:
    from .experiments import Experiment
    from .options import RunOptions, SpeedOptions

DEFAULT_OUT = Path("lottery_runs")


class Parser(argparse.ArgumentParser):
    """argparse, with a usage error as one line naming the command (``lottery run: error: ...``)
    instead of the whole usage text above it; ``populate(parser)``, when given, adds the command's
    arguments on first use (parsing it, its --help), so that other commands do not pay for them."""

    def __init__(self, *args, populate=None, **kwargs):
        super().__init__(*args, **kwargs)
        self._populate = populate

    def populated(self) -> "Parser":
        if self._populate is not None:
            populate, self._populate = self._populate, None
            populate(self)
        return self

    def parse_known_args(self, args=None, namespace=None):  # type: ignore[override]
        self.populated()
        return super().parse_known_args(args, namespace)

    def format_usage(self) -> str:
        self.populated()
        return super().format_usage()

    def format_help(self) -> str:
        self.populated()
        return super().format_help()

    def error(self, message: str):  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def default_device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def _add_setting(group, kind: type, f: dataclasses.Field, prefix: str) -> None:
    meta = f.metadata
    default = default_of(kind, f.name)
    kwargs: dict = {"dest": prefix + f.name, "default": None, "help": meta["help"]}
    if isinstance(default, bool):
        kwargs["action"] = argparse.BooleanOptionalAction
    else:
        kwargs["type"] = meta["parse"] or type(default)
        if meta["choices"]:
            kwargs["choices"] = meta["choices"]()
            kwargs["metavar"] = meta["metavar"] or "NAME"
            kwargs["help"] += f" (one of: {', '.join(kwargs['choices'])})"
        else:
            kwargs["metavar"] = meta["metavar"] or f.name.upper()
    group.add_argument(flag_of(kind, f.name), **kwargs)


def add_experiment_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags that choose an experiment: a preset plus per-field overrides (None = keep the preset's)."""

    g = parser.add_argument_group("experiment (every other flag below overrides one setting of the preset)")
    g.add_argument(
        "--preset",
        default="lenet",
        choices=preset_names(),
        metavar="NAME",
        help="paper settings to start from (see `lottery presets`; default: lenet)",
    )
    g.add_argument(
        "--levels",
        type=parse_non_negative_int,
        default=8,
        help="pruning rounds after the dense level 0 (default 8; 0: train only the dense network)",
    )
    g.add_argument(
        "--trials", type=parse_positive_int, default=1, help="independent trials, seeds seed..seed+N-1 (default 1)"
    )
    # One flag per hparams field (hparams.setting); a section's flags form a group, dest "<section>.<field>".
    sections = [f for f in dataclasses.fields(ExperimentHparams) if "help" not in f.metadata]
    for f in dataclasses.fields(ExperimentHparams):
        if "help" in f.metadata:
            _add_setting(g, ExperimentHparams, f, "")
    for section in sections:
        g = parser.add_argument_group(section.name)
        default = default_of(ExperimentHparams, section.name)
        for f in dataclasses.fields(default):
            _add_setting(g, type(default), f, section.name + ".")


def add_branch_arguments(parser: argparse.ArgumentParser) -> None:
    """The paper's controls and one-shot pruning, run as branches next to the ticket chain: one flag
    per registered branch (experiments/branches.py)."""
    from .experiments.branches import level_list, requestable_branches

    g = parser.add_argument_group("controls and one-shot (branches reusing the ticket's masks and θ0)")
    for branch in requestable_branches():
        branch.add_argument(g)
    g.add_argument(
        "--control-levels",
        type=level_list,
        metavar="K,L,...",
        help="run the branches above only at these levels (default: every level); the ticket chain runs every level",
    )


def add_runtime_arguments(parser: argparse.ArgumentParser) -> None:
    from .experiments.branches import level_list

    g = parser.add_argument_group("where and how")
    g.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"results root (default ./{DEFAULT_OUT})")
    g.add_argument("--data-dir", type=Path, help="folder with the data set's official files")
    g.add_argument("--download", action="store_true", help="download missing data files (checksums verified)")
    g.add_argument(
        "--device",
        default=default_device(),
        help="cpu, cuda or cuda:N (default: cuda when available)",
    )
    g.add_argument(
        "--checkpoint-every",
        type=parse_positive_int,
        default=1000,
        help="iterations between in-level checkpoints (default 1000)",
    )
    g.add_argument("--debug", action="store_true", help="check after every step that pruned weights stay zero")
    g.add_argument("--no-progress", action="store_true", help="no progress bars")
    g.add_argument(
        "--test-curve",
        nargs="?",
        const=True,
        default=False,
        type=level_list,
        metavar="K,L,...",
        help="evaluate the test set at every evaluation (at every level, or at these levels), for Figure 3's "
        "curves; by default only at the end, on the final and the early-stop weights, which gives the same results",
    )


def add_speed_arguments(parser: argparse.ArgumentParser) -> None:
    from .options import EVAL_PRECISIONS, SpeedOptions

    g = parser.add_argument_group("speed (results agree with the defaults to float rounding, except bf16 evaluation)")
    g.add_argument(
        "--batch-networks",
        type=parse_positive_int,
        default=1,
        dest="together",
        metavar="N",
        help="train up to N networks of a level (trials, controls, one-shot) together in one batched "
        "computation, level by level (default 1)",
    )
    g.add_argument(
        "--eval-precision",
        choices=sorted(EVAL_PRECISIONS),
        default="fp32",
        help="matmul precision of evaluations: fp32 (exact, default) or bf16 (faster on CPUs with "
        "AMX/AVX512-BF16 and on GPUs; accuracies within 0.2 percentage points)",
    )
    g.add_argument(
        "--sparse-below",
        type=float,
        default=SpeedOptions.sparse_below,
        metavar="FRACTION",
        help="on CPU, train layers keeping at most this fraction of weights with sparse kernels "
        "(default %(default)s; 0: never)",
    )
    g.add_argument(
        "--threads",
        type=parse_positive_int,
        metavar="N",
        help="torch CPU threads (default: torch's choice; 1 is often faster on a busy machine)",
    )


def speed_from_args(args: argparse.Namespace) -> "SpeedOptions":
    from .options import SpeedOptions

    sparse = getattr(args, "sparse_below", SpeedOptions.sparse_below)
    return SpeedOptions(
        together=getattr(args, "together", 1),
        eval_precision=getattr(args, "eval_precision", "fp32"),
        sparse_below=sparse or None,
    )


def add_executor_arguments(parser: argparse.ArgumentParser) -> None:
    from .executors import EXECUTORS

    g = parser.add_argument_group("parallel and distributed (trials, control draws and one-shot levels fan out)")
    g.add_argument(
        "--executor",
        choices=EXECUTORS,
        default="local",
        help="local: this machine (default); ray: tasks on a Ray cluster (pip install 'lottery[ray]')",
    )
    g.add_argument(
        "--workers",
        type=parse_positive_int,
        metavar="N",
        help="local: N worker processes (default 1: all in this process); ray: at most N tasks at once",
    )
    g.add_argument(
        "--address",
        metavar="ADDR",
        help="Ray cluster to join ('auto', 'ray://head:10001'); default: start Ray on this machine. "
        "With several machines, --out must be on a shared file system",
    )


def hparams_from_args(args: argparse.Namespace) -> ExperimentHparams:
    """The preset, with every experiment flag that was given replacing its field."""
    given = vars(args)

    def override(section, prefix: str):
        changes = {}
        for f in dataclasses.fields(section):
            value = getattr(section, f.name)
            if dataclasses.is_dataclass(value):
                changes[f.name] = override(value, f.name + ".")
            elif given.get(prefix + f.name) is not None:
                changes[f.name] = given[prefix + f.name]
        return replace(section, **changes)

    return override(get_preset(args.preset), "")


def options_from_args(args: argparse.Namespace) -> "RunOptions":
    from .options import RunOptions

    return RunOptions(
        device=args.device,
        progress=not args.no_progress,
        debug=args.debug,
        checkpoint_every=args.checkpoint_every,
        data_dir=args.data_dir,
        download=args.download,
        speed=speed_from_args(args),
        test_curve=args.test_curve,
    )


def open_experiment(args: argparse.Namespace) -> "Experiment":
    """The experiment the flags ask for, checked (one-line errors) but not entered: no folder yet."""
    from .experiments import Experiment

    return Experiment(hparams_from_args(args), args.out, options_from_args(args))


def show(folder: Path) -> str:
    """The table of an experiment folder; notes on damaged level records go to stderr."""
    from .report import aggregate, load_experiment, text_table

    results = load_experiment(folder)
    for note in results.notes:
        print(f"note: {note}", file=sys.stderr)
    if not results.runs:
        return f"{folder}: no finished levels yet"
    seeds = sorted({(r.trial, r.seeds["trial_seed"]) for r in results.runs})
    header = [
        f"experiment {results.info.name}  ({folder})",
        "non-default hyperparameters: " + str(results.info.non_default),
        "trial seeds: " + ", ".join(f"trial {t}: {s}" for t, s in seeds),
    ]
    return "\n".join(header + ["", text_table(aggregate(results.runs))])


def cmd_run(args) -> int:
    import torch

    from .executors import make_executor
    from .experiments import run_experiment
    from .experiments.branches import requests_from_args
    from .experiments.runner import plan
    from .report import aggregate, load_experiment, plots
    from .report.labels import experiment_title
    from .training.precision import bf16_warning

    if args.threads:
        torch.set_num_threads(args.threads)
    experiment = open_experiment(args)
    requests = requests_from_args(args)
    # branch requests the run cannot honour are refused before any file is written
    plan(experiment, args.trials, args.levels, control_levels=args.control_levels, **requests)
    executor = make_executor(args.executor, workers=args.workers, address=args.address, device=args.device)
    with executor, experiment as exp:
        warning = bf16_warning(exp.device, exp.hp.training.precision, exp.speed.eval_precision)
        if warning:  # after the checks on entering, so a refused run prints its error alone
            print(f"lottery: warning: {warning}", file=sys.stderr)
        ran = run_experiment(
            exp,
            args.trials,
            args.levels,
            executor=executor,
            control_levels=args.control_levels,
            **requests,
        )
        if not ran:
            _ = exp.data  # every level had finished already: still report missing or corrupt data files
        folder = exp.paths.folder
    print(show(folder))
    results = load_experiment(folder)
    title = experiment_title(folder.name, results.info.hparams, len({r.trial for r in results.runs}))
    figure = plots.summary_figure(aggregate(results.runs), title, folder / "summary.png")
    print(f"\nfigure: {figure}")
    return 0


def cmd_show(args) -> int:
    for folder in args.experiments:
        print(show(folder))
    return 0


def cmd_report(args) -> int:
    from .report.paper import make_report

    check_output_folder(args.out)
    written, notes = make_report(args.experiments, args.out, args.format, args.levels_for_curves)
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    print("\n".join(str(path) for path in written))
    return 0


def check_output_file(out: Path) -> None:
    """Refuse, before any work, an output file that cannot be written (its folder is missing parts
    that cannot be created, is a file, or is read-only; or the file's name is a folder)."""
    if out.is_dir():
        raise LotteryError(f"cannot write {out}: it is a folder; give a file name with --out")
    _check_creatable(out, out.parent)


def check_output_folder(out: Path) -> None:
    """Refuse, before any work, an output folder that cannot be written: a file, a path below a file,
    or a read-only folder."""
    _check_creatable(out, out)


def _check_creatable(out: Path, folder: Path) -> None:
    """``folder`` (the one ``out`` goes in) exists and is writable, or its nearest existing parent is."""
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not folder.is_dir():
        raise LotteryError(f"cannot write {out}: {folder} is a file, not a folder; choose another --out")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise LotteryError(f"cannot write {out}: {folder} is not writable; choose another --out")


def cmd_iterations(args) -> int:
    from .report.iterations import iterations_figure

    check_output_file(args.out)
    print(iterations_figure(args.experiments, list(args.at), args.out))
    return 0


def cmd_compare(args) -> int:
    from .report.compare import figure5

    check_output_file(args.out)
    print(figure5(args.experiments, args.out, args.title))
    return 0


def cmd_export(args) -> int:
    from .export import export_experiment_ticket

    check_output_file(args.out)
    ticket = export_experiment_ticket(args.experiment, args.trial, args.level, args.out, args.weights)
    print(
        f"{args.out}: trial {args.trial} level {args.level} ({args.weights} weights), "
        f"density {ticket.density:.4f}, {len(ticket.masks)} masked tensors"
    )
    return 0


def cmd_presets(args) -> int:
    print(describe_presets())
    return 0


def cmd_analyze(args) -> int:
    from .analysis.analyze import analyze

    check_output_folder(args.out)
    print("\n".join(str(path) for path in analyze(args.experiments, args.out, args.levels)))
    return 0


def cmd_instability(args) -> int:
    import torch

    from .analysis.instability import run_instability
    from .options import check_device

    device = args.device or default_device()
    check_device(device)
    check_output_folder(args.out)
    if args.threads:
        torch.set_num_threads(args.threads)
    results, written = run_instability(
        args.experiment,
        list(args.level),
        list(args.rewind) if args.rewind else None,
        args.out,
        trial=args.trial,
        points=args.points,
        keep_networks=args.keep_networks,
        data_dir=args.data_dir,
        download=args.download,
        device=device,
        progress=not args.no_progress,
    )
    for r in results:
        print(
            f"level {r.level} (Pm {100 * r.density:.3g}%) rewind {r.rewind}: error barrier "
            f"{100 * r.barrier:.2f}, bump {100 * r.bump:.2f} percentage points "
            f"(ends {100 * r.errors[0]:.2f}% / {100 * r.errors[-1]:.2f}%)"
        )
    print("\n".join(str(path) for path in written))
    return 0


def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    add_experiment_arguments(parser)
    add_branch_arguments(parser)
    add_runtime_arguments(parser)
    add_speed_arguments(parser)
    add_executor_arguments(parser)


def add_report_arguments(p: argparse.ArgumentParser) -> None:
    from .report.paper import FORMATS

    p.add_argument("experiments", nargs="+", type=Path, metavar="EXPERIMENT_DIR")
    p.add_argument(
        "--out",
        type=Path,
        default=Path("lottery_report"),
        help="folder for the figures and tables (default ./lottery_report)",
    )
    p.add_argument("--format", choices=FORMATS, default="png", help="figure file format (default png)")
    p.add_argument(
        "--levels-for-curves",
        type=int_list,
        metavar="K,L,...",
        help="ticket levels drawn in Figure 3's training curves (default: 4 spread from dense to sparsest)",
    )


def add_export_arguments(p: argparse.ArgumentParser) -> None:
    from .export import WEIGHTS

    p.add_argument("experiment", type=Path, metavar="EXPERIMENT_DIR")
    p.add_argument("--trial", type=int, default=0, help="trial (default 0)")
    p.add_argument("--level", type=int, required=True, help="pruning level of the ticket chain")
    p.add_argument(
        "--weights",
        choices=WEIGHTS,
        default="reset",
        help="reset: the weights survivors start from (θ0, or θk when rewinding; default); "
        "final: the weights after that level's training",
    )
    p.add_argument("--out", type=Path, required=True, metavar="FILE", help="ticket file to write")


def subcommand(parser: argparse.ArgumentParser, name: str) -> Parser:
    """The parser of subcommand ``name`` of :func:`build_parser`'s parser, with all its arguments."""
    return parser._subparsers._group_actions[0].choices[name].populated()  # type: ignore[union-attr,index]


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="lottery", description="Find winning lottery tickets (Frankle & Carbin 2019).")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser(
        "run", help="iterative magnitude pruning: train, prune, reset, repeat", populate=add_run_arguments
    )
    p.set_defaults(func=cmd_run)
    p = sub.add_parser("show", help="print the table of a finished (or running) experiment")
    p.add_argument("experiments", nargs="+", type=Path, metavar="EXPERIMENT_DIR")
    p.set_defaults(func=cmd_show)
    p = sub.add_parser(
        "report",
        help="the paper's figures (PNG/SVG) and Markdown/CSV tables of experiments",
        populate=add_report_arguments,
    )
    p.set_defaults(func=cmd_report)
    p = sub.add_parser(
        "iterations", help="Figures 7-8: test accuracy vs Pm at fixed iterations, one line per experiment"
    )
    p.add_argument("experiments", nargs="+", type=Path, metavar="EXPERIMENT_DIR")
    p.add_argument(
        "--at",
        type=int_list,
        required=True,
        metavar="I,J,...",
        help="iterations to read the test accuracy at (paper: 30000,60000,112000 for VGG-19; "
        "10000,20000,30000 for ResNet-18)",
    )
    p.add_argument("--out", type=Path, default=Path("iterations.png"), help="figure file (default ./iterations.png)")
    p.set_defaults(func=cmd_iterations)
    p = sub.add_parser(
        "compare", help="Figure 5: early-stop iteration and accuracy vs Pm, one line per experiment (e.g. Conv-2/4/6)"
    )
    p.add_argument("experiments", nargs="+", type=Path, metavar="EXPERIMENT_DIR")
    p.add_argument("--out", type=Path, default=Path("compare.png"), help="figure file (default ./compare.png)")
    p.add_argument("--title", default="", help="figure title (default: the experiments' data sets)")
    p.set_defaults(func=cmd_compare)
    p = sub.add_parser(
        "export", help="write a ticket (weights + masks) as a plain PyTorch file", populate=add_export_arguments
    )
    p.set_defaults(func=cmd_export)
    p = sub.add_parser("presets", help="list the paper's settings available as --preset")
    p.set_defaults(func=cmd_presets)
    p = sub.add_parser(
        "analyze",
        help="ticket anatomy: per-layer density, mask overlaps, start values, input "
        "connectivity (figures + analysis.md/.csv)",
    )
    p.add_argument("experiments", nargs="+", type=Path, metavar="EXPERIMENT_DIR")
    p.add_argument(
        "--out",
        type=Path,
        default=Path("lottery_analysis"),
        help="folder for the figures and tables (default ./lottery_analysis)",
    )
    p.add_argument(
        "--levels",
        type=int_list,
        metavar="K,L,...",
        help="ticket levels of the histograms and connectivity maps (default: 3 spread over the pruned levels)",
    )
    p.set_defaults(func=cmd_analyze)
    p = sub.add_parser(
        "instability",
        help="error barrier between two copies of a ticket trained with different "
        "data orders (linear mode connectivity)",
    )
    p.add_argument("experiment", type=Path, metavar="EXPERIMENT_DIR")
    p.add_argument("--level", type=int_list, required=True, metavar="L,M,...", help="ticket level(s) to measure")
    p.add_argument(
        "--rewind",
        type=int_list,
        metavar="K,J,...",
        help="start from the dense network's weights at these iterations (0: θ0; default: the "
        "experiment's own rewind iteration)",
    )
    p.add_argument(
        "--points", type=parse_positive_int, default=30, help="points on the interpolation line (default 30)"
    )
    p.add_argument("--trial", type=int, default=0, help="trial whose ticket is measured (default 0)")
    p.add_argument(
        "--keep-networks",
        action="store_true",
        help="also save the two trained copies of each level and rewind (DIR/networks/), so the path can be "
        "evaluated again without training",
    )
    p.add_argument(
        "--out",
        type=Path,
        default=Path("lottery_instability"),
        help="folder for the figure and tables (default ./lottery_instability)",
    )
    p.add_argument("--data-dir", type=Path, help="folder with the data set's official files")
    p.add_argument("--download", action="store_true", help="download missing data files (checksums verified)")
    p.add_argument("--device", help="cpu, cuda or cuda:N (default: cuda when available)")
    p.add_argument("--threads", type=parse_positive_int, metavar="N", help="torch CPU threads")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(func=cmd_instability)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except LotteryError as e:
        print(f"lottery: error: {e}", file=sys.stderr)
        return e.exit_code
    except OSError as e:  # a file system failure no check foresaw: still one line
        print(f"lottery: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("lottery: interrupted; run the same command again to resume", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
