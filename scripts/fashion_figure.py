#!/usr/bin/env python3
"""Remake the README's Fashion-MNIST figures and table (reduced budget, see README).

    .venv/bin/python scripts/fashion_figure.py [--data-dir ../shared/data/fashion-mnist] [--out lottery_runs]

Runs (or resumes: finished levels are skipped) LeNet-300-100 on Fashion-MNIST with 5,000
iterations per level, 2 trials, 8 pruning levels at fc 40% / output 20% per round (Pm down to
~1.7% in 8 rounds), one random-reinit draw, one random-pruning draw and one-shot pruning; then
writes the report (PNG figures, table.md, table.csv) to docs/fashion-mnist/.
"""

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from lottery.cli import build_parser, hparams_from_args, main  # noqa: E402

BUDGET = ["--preset", "lenet", "--dataset", "fashion-mnist", "--iterations", "5000", "--trials", "2",
          "--levels", "8", "--prune-fc", "0.4", "--prune-output", "0.2",
          "--reinit-draws", "1", "--random-draws", "1", "--oneshot"]
CURVE_LEVELS = "0,2,4,6,8"


def run(argv: list[str]) -> None:
    code = main(argv)
    if code:
        sys.exit(code)


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=REPO.parent / "shared" / "data" / "fashion-mnist")
    parser.add_argument("--out", type=Path, default=REPO / "lottery_runs")
    parser.add_argument("--report-dir", type=Path, default=REPO / "docs" / "fashion-mnist")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args()
    run_argv = ["run", *BUDGET, "--data-dir", str(args.data_dir), "--out", str(args.out)]
    run_argv += ["--no-progress"] if args.no_progress else []
    run(run_argv)
    folder = args.out / hparams_from_args(build_parser().parse_args(run_argv)).name()
    run(["report", str(folder), "--out", str(args.report_dir), "--levels-for-curves", CURVE_LEVELS])


if __name__ == "__main__":
    cli()
