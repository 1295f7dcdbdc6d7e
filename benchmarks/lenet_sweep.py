"""Wall time of the paper's whole LeNet sweep run by lottery, extrapolated to 50,000 iterations, with lazy
and with full test evaluation.

The sweep is the one of Figures 3-4: LeNet-300-100 with the paper's settings (Adam 1.2e-3, batch 60,
evaluation every 100 iterations, fc layers pruned 20% and the output layer 10% per round), 5 trials,
the dense level and 15 pruning rounds (Pm 3.5%), and at every pruned level the ticket and one
random-reinit draw: 155 trainings (``--random-draws 1`` adds a random-pruning control per level: 230).
It is run for real, through ``run_experiment`` as ``lottery run --workers W --batch-networks K
--threads 1`` runs it (``--precision`` and ``--eval-precision`` as given, fp32 by default), with
pruning, masks, files and worker processes, but with short trainings: once with ``--short-length``
and once with ``--length`` iterations per training. Wall time is linear in the iterations per
training, T(n) = A + B n, so the two runs give the cost of the real 50,000-iteration sweep:
A + 50,000 B.

Each length is run twice, in the same run: with lottery's default lazy test evaluation (the 10,000
test images only at the end, on the final and the early-stop weights) and with ``--test-curve`` (validation and
test set at every evaluation, the full protocol); both give the same early stops and accuracies.

The reference: the plain PyTorch loop of lenet_speed.py (nn.Sequential + torch.optim.Adam, the full
protocol), timed at the same two lengths in the same run on the same data, extrapolated the same
way, times the number of trainings, one after another.

Data: real MNIST when its files are found (``--data-dir``, default ../shared/data/mnist), so that
pruning follows real weights; otherwise MNIST-shaped random data.

    python benchmarks/lenet_sweep.py                  # ~10 minutes on 2 cores
    python benchmarks/lenet_sweep.py --random-draws 1
    python benchmarks/lenet_sweep.py --eval-precision bf16   # pays only with native bf16 matmuls
    python benchmarks/lenet_sweep.py --trials 2 --levels 3 --length 300 --short-length 100   # ~2 minutes
"""

import argparse
import os
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import lottery  # noqa: F401  (first: sets the speed environment before torch loads)
import torch

from lenet_speed import mnist_shaped, reference
from lottery.data import load_splits
from lottery.executors import LocalExecutor
from lottery.experiments import Experiment, run_experiment
from lottery.hparams import DatasetHparams
from lottery.presets import get_preset
from lottery.options import SpeedOptions

MNIST = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist"


def sweep_seconds(args, iterations: int, data, dataset: DatasetHparams, test_curve: bool) -> float:
    hp = get_preset("lenet")
    hp = replace(hp, dataset=dataset, training=replace(hp.training, iterations=iterations, precision=args.precision))
    speed = SpeedOptions(together=args.k, eval_precision=args.eval_precision)
    with tempfile.TemporaryDirectory() as root, LocalExecutor(args.workers) as executor:
        with Experiment(
            hp, Path(root), data=data, data_dir=args.data_dir, progress=False, speed=speed, test_curve=test_curve
        ) as exp:
            began = time.perf_counter()
            run_experiment(
                exp,
                args.trials,
                args.levels,
                reinit_draws=args.reinit_draws,
                random_draws=args.random_draws,
                executor=executor,
            )
            return time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=5)
    parser.add_argument("--levels", type=int, default=15, help="pruning rounds after the dense level (default 15)")
    parser.add_argument("--reinit-draws", type=int, default=1, help="random-reinit controls per level (default 1)")
    parser.add_argument("--random-draws", type=int, default=0, help="random-pruning controls per level (default 0)")
    parser.add_argument("--length", type=int, default=1000, help="iterations per training, long run (default 1000)")
    parser.add_argument(
        "--short-length", type=int, default=200, help="iterations per training, short run (default 200)"
    )
    parser.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1), help="worker processes")
    parser.add_argument("--k", type=int, default=8, help="networks trained together per worker (default 8)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads per worker (default 1)")
    parser.add_argument(
        "--precision", choices=["fp32", "bf16"], default="fp32", help="lottery's training precision (default fp32)"
    )
    parser.add_argument(
        "--eval-precision",
        choices=["fp32", "bf16"],
        default="fp32",
        help="lottery's evaluation precision (default fp32)",
    )
    parser.add_argument("--data-dir", type=Path, default=MNIST, help="MNIST files (default %(default)s)")
    args = parser.parse_args()
    if args.short_length >= args.length:
        parser.error("--short-length must be below --length")
    torch.set_num_threads(args.threads * args.workers)  # worker processes split the driver's threads
    if (args.data_dir / "train-images-idx3-ubyte.gz").exists():
        dataset, data, what = DatasetHparams("mnist"), None, f"MNIST from {args.data_dir}"
    else:
        dataset, data, what = DatasetHparams("mnist"), mnist_shaped("cpu"), "MNIST-shaped random data"
    per_level = 1 + args.reinit_draws + args.random_draws
    trainings = args.trials * (1 + per_level * args.levels)
    print(
        f"LeNet sweep: {args.trials} trials x (dense + {args.levels} levels x (ticket, {args.reinit_draws} reinit, "
        f"{args.random_draws} random pruning)) = {trainings} trainings; {args.workers} workers x {args.threads} "
        f"threads, {args.k} networks together, {args.precision} training, "
        f"{args.eval_precision} evaluation; {what}; "
        f"load average at start {os.getloadavg()[0]:.1f}",
        flush=True,
    )

    reference_data = data if data is not None else load_splits("mnist", args.data_dir)
    # untimed: the first run decodes the data set into its cache and warms the worker start-up
    sweep_seconds(
        argparse.Namespace(**{**vars(args), "trials": 1, "levels": 0}), args.short_length, data, dataset, False
    )
    lazy, full, plain = {}, {}, {}
    for n in (args.short_length, args.length):
        lazy[n] = sweep_seconds(args, n, data, dataset, test_curve=False)
        full[n] = sweep_seconds(args, n, data, dataset, test_curve=True)
        plain[n] = reference(reference_data, n, 1)
        print(
            f"{n} iterations per training: lottery sweep {lazy[n]:.0f} s with lazy test evaluation, {full[n]:.0f} s "
            f"with the test set at every evaluation; one reference training {plain[n]:.1f} s "
            f"(load average {os.getloadavg()[0]:.1f})",
            flush=True,
        )

    def hours_at_50k(seconds: dict[int, float], trainings: int = 1) -> float:
        short, long = seconds[args.short_length], seconds[args.length]
        per_iteration = (long - short) / (args.length - args.short_length)
        return trainings * (long + (50_000 - args.length) * per_iteration) / 3600

    reference_hours = hours_at_50k(plain, trainings)
    print("\nextrapolated to 50,000 iterations per training:")
    for name, seconds in (("lazy test evaluation (default)", lazy), ("test set at every evaluation", full)):
        hours = hours_at_50k(seconds)
        print(f"  lottery, {name:<32} {hours:5.2f} h ({reference_hours / hours:.1f}x the reference loop)")
    print(f"  reference loop, one training after another  {reference_hours:5.2f} h")


if __name__ == "__main__":
    main()
