"""Time Conv-2/4/6 training on this machine and scale to 1,000 iterations.

Uses lottery's own training loop (Adam, batch 60, masked gradients) on random CIFAR-shaped data,
so no data set is needed. Reports separately:
  * training steps only, per 1,000 iterations;
  * one evaluation pass over 5,000 validation + 10,000 test images (the loop does one every
    ``eval_every`` = 100 iterations in the paper's setting, i.e. 10 per 1,000 iterations);
  * their sum: per 1,000 iterations with the paper's evaluation schedule.

    python benchmarks/conv_time.py [--iterations 150] [--nets conv2,conv4,conv6] [--device cpu] [--threads 1]
"""

import argparse
import os
import time
from dataclasses import replace

import torch

from lottery.data import DataSplits
from lottery.hparams import TrainingHparams
from lottery.models import get_model_spec
from lottery.pruning import full_mask
from lottery.training import Schedule
from lottery.training.loop import evaluate, train


def random_splits(n_train: int, n_val: int, n_test: int, device: str) -> DataSplits:
    g = torch.Generator().manual_seed(0)

    def draw(n):
        return torch.randn(n, 3, 32, 32, generator=g), torch.randint(0, 10, (n,), generator=g)

    return DataSplits(*draw(n_train), *draw(n_val), *draw(n_test), 10).to(device)


def time_training(name: str, iterations: int, lr: float, device: str) -> float:
    """Seconds per training iteration (evaluation made negligible: 60 val/test images, 2 passes)."""
    data = random_splits(6_000, 60, 60, device)
    model = get_model_spec(name).build((3, 32, 32), 10).to(device)
    mask = full_mask(model, model.prunable_kinds())
    hp = TrainingHparams(lr=lr, batch_size=60, iterations=iterations, eval_every=iterations)
    train(
        model, mask, data, replace(hp, iterations=5, eval_every=5), schedule=Schedule(progress=False), seed=0
    )  # warm-up
    began = time.perf_counter()
    train(model, mask, data, hp, schedule=Schedule(progress=False), seed=1)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return (time.perf_counter() - began) / iterations


def time_evaluation(name: str, device: str) -> float:
    """Seconds for one evaluation: 5,000 validation + 10,000 test images."""
    data = random_splits(60, 5_000, 10_000, device)
    model = get_model_spec(name).build((3, 32, 32), 10).to(device)
    evaluate(model, data.val_x[:2000], data.val_y[:2000])  # warm-up
    began = time.perf_counter()
    evaluate(model, data.val_x, data.val_y)
    evaluate(model, data.test_x, data.test_y)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--iterations", type=int, default=150, help="timed iterations per net (default 150)")
    parser.add_argument("--nets", default="conv2,conv4,conv6")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, help="torch threads (default: torch's choice, one per core)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(
        f"device {args.device}, torch {torch.__version__}, {torch.get_num_threads()} threads, "
        f"{args.iterations} timed iterations per net"
    )
    print(
        f"{'net':<6} {'train s/1k its':>15} {'one eval s':>11} {'s/1k its incl. eval every 100':>30} "
        f"{'load before/after':>18}"
    )
    for name in args.nets.split(","):
        load_before = os.getloadavg()[0]  # the machine may be shared: say how busy it was
        step = time_training(name, args.iterations, 3e-4, args.device)
        evaluation = time_evaluation(name, args.device)
        print(
            f"{name:<6} {1000 * step:>15.0f} {evaluation:>11.1f} {1000 * step + 10 * evaluation:>30.0f} "
            f"{load_before:>9.1f}/{os.getloadavg()[0]:.1f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
