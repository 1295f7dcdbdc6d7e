"""The ``lottery`` command line: run experiments, show their tables, draw their figures."""

import argparse
import sys
from dataclasses import replace
from pathlib import Path

import torch

from .data import dataset_names
from .errors import LotteryError
from .executors import EXECUTORS, make_executor
from .experiments import Experiment, run_experiment
from .export import WEIGHTS, export_experiment_ticket
from .hparams import ExperimentHparams
from .models import model_names
from .presets import describe_presets, get_preset, preset_names
from .report import aggregate, load_experiment, plots, text_table
from .report.paper import FORMATS, make_report
from .report.iterations import iterations_figure
from .report.compare import figure5
from .training.batched import EVAL_PRECISIONS, SpeedOptions

DEFAULT_OUT = Path("lottery_runs")


def _positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {value}")
    return value


def _rate(text: str) -> float:
    value = float(text)
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"{value} is impossible: a pruning rate must be in [0, 1)")
    return value


def _int_list(text: str) -> tuple[int, ...]:
    return tuple(int(v) for v in text.split(",") if v.strip())


def add_experiment_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags that choose an experiment: a preset plus per-field overrides (None = keep the preset's)."""
    g = parser.add_argument_group("experiment")
    g.add_argument("--preset", default="lenet", choices=preset_names(), metavar="NAME",
                   help="paper settings to start from (see `lottery presets`; default: lenet)")
    g.add_argument("--model", choices=model_names(), metavar="NAME", help=f"one of {', '.join(model_names())}")
    g.add_argument("--dataset", choices=dataset_names(), metavar="NAME", help=f"one of {', '.join(dataset_names())}")
    g.add_argument("--levels", type=_positive_int, default=8, help="pruning rounds after the dense level 0 (default 8)")
    g.add_argument("--trials", type=_positive_int, default=1, help="independent trials, seeds seed..seed+N-1 (default 1)")
    g.add_argument("--seed", type=int)
    g.add_argument("--rewind", type=int, dest="rewind_iteration", metavar="K",
                   help="reset survivors to their weights at iteration K instead of θ0")
    g = parser.add_argument_group("training")
    g.add_argument("--optimizer", choices=["adam", "sgd"])
    g.add_argument("--lr", type=float)
    g.add_argument("--momentum", type=float)
    g.add_argument("--weight-decay", type=float)
    g.add_argument("--batch-size", type=_positive_int)
    g.add_argument("--precision", choices=["fp32", "bf16", "fp16"], help="training compute precision (default fp32)")
    g.add_argument("--iterations", type=_positive_int, help="training iterations per level")
    g.add_argument("--eval-every", type=_positive_int, help="iterations between evaluations (paper: 100)")
    g.add_argument("--warmup", type=int, help="linear learning-rate warmup iterations")
    g.add_argument("--lr-drops", type=_int_list, metavar="I,J", help="iterations where the lr is multiplied by 0.1")
    g.add_argument("--dropout", type=float)
    g.add_argument("--validation-size", type=_positive_int)
    g.add_argument("--augment", action=argparse.BooleanOptionalAction,
                   help="random flip + 4-pixel pad-and-crop of training images (on in the resnet18 presets)")
    g = parser.add_argument_group("pruning")
    g.add_argument("--prune-strategy", choices=["layerwise", "global"], dest="strategy")
    g.add_argument("--prune-conv", type=_rate, dest="conv_rate", metavar="RATE")
    g.add_argument("--prune-fc", type=_rate, dest="fc_rate", metavar="RATE")
    g.add_argument("--prune-output", type=_rate, dest="output_rate", metavar="RATE")
    g.add_argument("--prune-shortcut", type=_rate, dest="shortcut_rate", metavar="RATE")
    g.add_argument("--prune-global", type=_rate, dest="global_rate", metavar="RATE")
    g.add_argument("--ignore", type=lambda t: tuple(t.split(",")), metavar="NAMES",
                   help="comma-separated parameter names never pruned")


def _count(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {value}")
    return value


def add_branch_arguments(parser: argparse.ArgumentParser) -> None:
    """The paper's controls and one-shot pruning, run as branches next to the ticket chain."""
    g = parser.add_argument_group("controls and one-shot (branches reusing the ticket's masks and θ0)")
    g.add_argument("--reinit-draws", type=_count, default=0, metavar="N",
                   help="random reinitialization control: ticket masks, N fresh inits per trial (paper: 3)")
    g.add_argument("--random-draws", type=_count, default=0, metavar="N",
                   help="random pruning control: N random masks with the ticket's per-layer counts")
    g.add_argument("--oneshot", nargs="?", const=True, default=False, type=_int_list, metavar="K,L,...",
                   help="also prune the trained dense network in one step to each level's Pm and retrain; "
                        "with K,L,...: only at those levels")


def add_runtime_arguments(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("where and how")
    g.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"results root (default ./{DEFAULT_OUT})")
    g.add_argument("--data-dir", type=Path, help="folder with the data set's official files")
    g.add_argument("--download", action="store_true", help="download missing data files (checksums verified)")
    g.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    g.add_argument("--checkpoint-every", type=_positive_int, default=1000,
                   help="iterations between in-level checkpoints (default 1000)")
    g.add_argument("--debug", action="store_true", help="check after every step that pruned weights stay zero")
    g.add_argument("--no-progress", action="store_true", help="no progress bars")


def add_speed_arguments(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("speed (results agree with the defaults to float rounding, except bf16 evaluation)")
    g.add_argument("--batch-networks", type=_positive_int, default=1, dest="together", metavar="N",
                   help="train up to N networks of a level (trials, controls, one-shot) together in one batched "
                        "computation, level by level (default 1)")
    g.add_argument("--eval-precision", choices=sorted(EVAL_PRECISIONS), default="fp32",
                   help="matmul precision of evaluations: fp32 (exact, default) or bf16 (faster on CPUs with "
                        "AMX/AVX512-BF16 and on GPUs; accuracies within 0.2 percentage points)")
    g.add_argument("--sparse-below", type=float, default=SpeedOptions.sparse_below, metavar="FRACTION",
                   help="on CPU, train layers keeping at most this fraction of weights with sparse kernels "
                        "(default %(default)s; 0: never)")
    g.add_argument("--threads", type=_positive_int, metavar="N",
                   help="torch CPU threads (default: torch's choice; 1 is often faster on a busy machine)")


def speed_from_args(args: argparse.Namespace) -> SpeedOptions:
    sparse = getattr(args, "sparse_below", SpeedOptions.sparse_below)
    return SpeedOptions(together=getattr(args, "together", 1), eval_precision=getattr(args, "eval_precision", "fp32"),
                        sparse_below=sparse or None)


def add_executor_arguments(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("parallel and distributed (trials, control draws and one-shot levels fan out)")
    g.add_argument("--executor", choices=EXECUTORS, default="local",
                   help="local: this machine (default); ray: tasks on a Ray cluster (pip install 'lottery[ray]')")
    g.add_argument("--workers", type=_positive_int, metavar="N",
                   help="local: N worker processes (default 1: all in this process); ray: at most N tasks at once")
    g.add_argument("--address", metavar="ADDR",
                   help="Ray cluster to join ('auto', 'ray://head:10001'); default: start Ray on this machine. "
                        "With several machines, --out must be on a shared file system")


def hparams_from_args(args: argparse.Namespace) -> ExperimentHparams:
    hp = get_preset(args.preset)

    def override(section, **fields):
        return replace(section, **{k: v for k, v in fields.items() if v is not None})

    a = vars(args)
    model = override(hp.model, name=a.get("model"), dropout=a.get("dropout"))
    dataset = override(hp.dataset, name=a.get("dataset"), validation_size=a.get("validation_size"),
                       augment=a.get("augment"))
    training = override(hp.training, **{k: a.get(k) for k in (
        "optimizer", "lr", "momentum", "weight_decay", "batch_size", "iterations", "eval_every", "warmup", "lr_drops")})
    training = override(training, precision=a.get("precision"))
    pruning = override(hp.pruning, **{k: a.get(k) for k in (
        "strategy", "conv_rate", "fc_rate", "output_rate", "shortcut_rate", "global_rate", "ignore")})
    return override(hp, model=model, dataset=dataset, training=training, pruning=pruning,
                    seed=a.get("seed"), rewind_iteration=a.get("rewind_iteration"))


def open_experiment(args: argparse.Namespace) -> Experiment:
    return Experiment(hparams_from_args(args), args.out, data_dir=args.data_dir, download=args.download,
                      device=args.device, progress=not args.no_progress, debug=args.debug,
                      checkpoint_every=args.checkpoint_every, speed=speed_from_args(args))


def show(folder: Path) -> str:
    info, runs = load_experiment(folder)
    if not runs:
        return f"{folder}: no finished levels yet"
    seeds = sorted({(r["trial"], r["seeds"]["trial_seed"]) for r in runs})
    header = [f"experiment {info['name']}  ({folder})",
              "non-default hyperparameters: " + str(info["non_default"]),
              "trial seeds: " + ", ".join(f"trial {t}: {s}" for t, s in seeds)]
    return "\n".join(header + ["", text_table(aggregate(runs))])


def cmd_run(args) -> int:
    if args.threads:
        torch.set_num_threads(args.threads)
    executor = make_executor(args.executor, workers=args.workers, address=args.address, device=args.device)
    with executor, open_experiment(args) as exp:
        run_experiment(exp, args.trials, args.levels, reinit_draws=args.reinit_draws,
                       random_draws=args.random_draws, oneshot=args.oneshot, executor=executor)
        folder = exp.paths.folder
    print(show(folder))
    _, runs = load_experiment(folder)
    figure = plots.summary_figure(aggregate(runs), folder.name, folder / "summary.png")
    print(f"\nfigure: {figure}")
    return 0


def cmd_show(args) -> int:
    for folder in args.experiments:
        print(show(folder))
    return 0


def cmd_report(args) -> int:
    written, notes = make_report(args.experiments, args.out, args.format, args.levels_for_curves)
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    print("\n".join(str(path) for path in written))
    return 0


def cmd_iterations(args) -> int:
    print(iterations_figure(args.experiments, list(args.at), args.out))
    return 0


def cmd_compare(args) -> int:
    print(figure5(args.experiments, args.out, args.title))
    return 0


def cmd_export(args) -> int:
    ticket = export_experiment_ticket(args.experiment, args.trial, args.level, args.out, args.weights)
    print(f"{args.out}: trial {args.trial} level {args.level} ({args.weights} weights), "
          f"density {ticket.density:.4f}, {len(ticket.masks)} masked tensors")
    return 0


def cmd_presets(args) -> int:
    print(describe_presets())
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lottery", description="Find winning lottery tickets (Frankle & Carbin 2019).")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("run", help="iterative magnitude pruning: train, prune, reset, repeat")
    add_experiment_arguments(p)
    add_branch_arguments(p)
    add_runtime_arguments(p)
    add_speed_arguments(p)
    add_executor_arguments(p)
    p.set_defaults(func=cmd_run)
    p = sub.add_parser("show", help="print the table of a finished (or running) experiment")
    p.add_argument("experiments", nargs="+", type=Path, metavar="EXPERIMENT_DIR")
    p.set_defaults(func=cmd_show)
    p = sub.add_parser("report", help="the paper's figures (PNG/SVG) and Markdown/CSV tables of experiments")
    p.add_argument("experiments", nargs="+", type=Path, metavar="EXPERIMENT_DIR")
    p.add_argument("--out", type=Path, default=Path("lottery_report"),
                   help="folder for the figures and tables (default ./lottery_report)")
    p.add_argument("--format", choices=FORMATS, default="png", help="figure file format (default png)")
    p.add_argument("--levels-for-curves", type=_int_list, metavar="K,L,...",
                   help="ticket levels drawn in Figure 3's training curves (default: 4 spread from dense to sparsest)")
    p.set_defaults(func=cmd_report)
    p = sub.add_parser("iterations", help="Figures 7-8: test accuracy vs Pm at fixed iterations, one line per experiment")
    p.add_argument("experiments", nargs="+", type=Path, metavar="EXPERIMENT_DIR")
    p.add_argument("--at", type=_int_list, required=True, metavar="I,J,...",
                   help="iterations to read the test accuracy at (paper: 30000,60000,112000 for VGG-19; "
                        "10000,20000,30000 for ResNet-18)")
    p.add_argument("--out", type=Path, default=Path("iterations.png"), help="figure file (default ./iterations.png)")
    p.set_defaults(func=cmd_iterations)
    p = sub.add_parser("compare", help="Figure 5: early-stop iteration and accuracy vs Pm, one line per experiment "
                       "(e.g. Conv-2/4/6)")
    p.add_argument("experiments", nargs="+", type=Path, metavar="EXPERIMENT_DIR")
    p.add_argument("--out", type=Path, default=Path("compare.png"), help="figure file (default ./compare.png)")
    p.add_argument("--title", default="", help="figure title")
    p.set_defaults(func=cmd_compare)
    p = sub.add_parser("export", help="write a ticket (weights + masks) as a plain PyTorch file")
    p.add_argument("experiment", type=Path, metavar="EXPERIMENT_DIR")
    p.add_argument("--trial", type=int, default=0, help="trial (default 0)")
    p.add_argument("--level", type=int, required=True, help="pruning level of the ticket chain")
    p.add_argument("--weights", choices=WEIGHTS, default="reset",
                   help="reset: the weights survivors start from (θ0, or θk when rewinding; default); "
                        "final: the weights after that level's training")
    p.add_argument("--out", type=Path, required=True, metavar="FILE", help="ticket file to write")
    p.set_defaults(func=cmd_export)
    p = sub.add_parser("presets", help="list the paper's settings available as --preset")
    p.set_defaults(func=cmd_presets)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except LotteryError as e:
        print(f"lottery: error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print("lottery: interrupted; run the same command again to resume", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
