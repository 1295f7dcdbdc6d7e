"""How fast lottery trains a whole Conv-2 level (or Conv-4, Conv-6), against a plain PyTorch loop timed in the same run.

Both sides train on real CIFAR-10 (JPEG copy) from ``--data-dir`` (CIFAR-shaped random data, with a
message, when the folder is absent): batch 60, Adam at the paper's rate, an evaluation every 100
iterations and at the end, then train accuracy at the early-stop and at the final weights (both sides
on the same fixed 10,000-image subset of the training set).

* The plain loop runs the full protocol: every evaluation on the 5,000 validation and the 10,000 test
  images, the early-stop weights kept at every new validation minimum.
* lottery runs ``loop.train`` as ``lottery run`` does, with its default lazy test evaluation (the test
  set only at the end, on the final and the early-stop weights; the same early stop and accuracies), in fp32 and,
  where bf16 matmuls are native, with ``--precision bf16 --eval-precision bf16``.
* 2 workers against 1: two networks of a level trained in two processes with one thread each, against
  the same two trained one after another in one process (fp32).

The default length is the paper's level (20,000 iterations for Conv-2), long enough to pass the
early stop, after which lottery stops evaluating the test set; ``--iterations`` shortens it (a short
run ends before its early stop, so it evaluates the test set at nearly every evaluation and shows
only the other gains).

    python benchmarks/conv_speed.py                          # a whole Conv-2 level: hours on a CPU
    python benchmarks/conv_speed.py --iterations 300         # ~15 minutes on 2 busy cores
    python benchmarks/conv_speed.py --iterations 300 --no-workers
    python benchmarks/conv_speed.py --iterations 100 --workers-only --rounds 3   # ~8 minutes on 2 idle cores
"""

import argparse
import multiprocessing as mp
import os
import statistics
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import lottery  # noqa: F401  (first: sets the speed environment before torch loads)
import torch
import torch.nn.functional as F
from torch import nn

from lottery.data import DataSplits, load_splits
from lottery.errors import LotteryError
from lottery.hparams import TrainingHparams
from lottery.models import get_model_spec
from lottery.presets import get_preset
from lottery.training import Schedule, train
from lottery.training.precision import native_bf16
from lottery.training.schedule import TRAIN_ACCURACY_EXAMPLES, TrainResult, train_subset

EVAL_EVERY = 100
CIFAR_JPEG = Path(__file__).resolve().parents[2] / "shared" / "data" / "cifar10-jpeg"


def cifar_shaped() -> DataSplits:
    g = torch.Generator().manual_seed(0)

    def draw(n):
        return torch.randn(n, 3, 32, 32, generator=g), torch.randint(0, 10, (n,), generator=g)

    (train_x, train_y), (val_x, val_y), (test_x, test_y) = draw(45_000), draw(5_000), draw(10_000)
    return DataSplits(train_x, train_y, val_x, val_y, test_x, test_y, 10)


def load_data(data_dir: Path) -> tuple[DataSplits, str]:
    try:
        return load_splits("cifar10-jpeg", data_dir), f"CIFAR-10 (JPEG copy) from {data_dir}"
    except LotteryError as e:
        print(f"no CIFAR-10 (JPEG copy) ({e}); timing on CIFAR-shaped random data instead", flush=True)
        return cifar_shaped(), "CIFAR-shaped random data"


# The paper's conv nets (Figure 2): 3x3 convolutions in pairs, each pair followed by 2x2 max-pooling,
# then fully connected 256, 256, 10.
CHANNELS = {"conv2": (64, 64), "conv4": (64, 64, 128, 128), "conv6": (64, 64, 128, 128, 256, 256)}


def plain_net(net: str) -> nn.Sequential:
    """The reference: the same architecture as plain torch.nn layers."""
    layers: list[nn.Module] = []
    width, side = 3, 32
    for i, c in enumerate(CHANNELS[net]):
        layers += [nn.Conv2d(width, c, 3, padding=1), nn.ReLU()]
        width = c
        if i % 2:
            layers.append(nn.MaxPool2d(2))
            side //= 2
    layers += [nn.Flatten(), nn.Linear(width * side * side, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU()]
    return nn.Sequential(*layers, nn.Linear(256, 10))


class Timer:
    """Wall and CPU seconds of a block. With one thread, CPU time is the work itself, however busy the
    cores are with other processes; wall time is what one waits."""

    def __enter__(self):
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *_):
        self.wall, self.cpu = time.perf_counter() - self.wall, time.process_time() - self.cpu


def reference(data: DataSplits, hp: TrainingHparams, net: str) -> Timer:
    """Wall and CPU seconds of a plain PyTorch loop with the full protocol."""
    model = plain_net(net)
    optimizer = torch.optim.Adam(model.parameters(), lr=hp.lr)
    g = torch.Generator().manual_seed(0)
    train_x, train_y = train_subset(data, TRAIN_ACCURACY_EXAMPLES)

    def evaluate(x, y) -> tuple[float, float]:
        model.eval()
        loss = correct = 0.0
        with torch.no_grad():
            for lo in range(0, len(y), 1000):
                logits = model(x[lo : lo + 1000])
                loss += float(F.cross_entropy(logits, y[lo : lo + 1000], reduction="sum"))
                correct += float((logits.argmax(1) == y[lo : lo + 1000]).sum())
        model.train()
        return loss / len(y), correct / len(y)

    best_loss, best_state = float("inf"), None

    def record() -> None:
        nonlocal best_loss, best_state
        val_loss, _ = evaluate(data.val_x, data.val_y)
        evaluate(data.test_x, data.test_y)
        if val_loss < best_loss:
            best_loss, best_state = val_loss, {k: v.clone() for k, v in model.state_dict().items()}

    with Timer() as timer:
        for it in range(hp.iterations):
            if it % hp.eval_every == 0:
                record()
            index = torch.randint(0, len(data.train_y), (hp.batch_size,), generator=g)
            loss = F.cross_entropy(model(data.train_x[index]), data.train_y[index])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        record()
        evaluate(train_x, train_y)  # train accuracy at the final weights
        assert best_state is not None  # the first evaluation is a new minimum
        model.load_state_dict(best_state)
        evaluate(train_x, train_y)  # and at the early-stop weights
    return timer


def lottery_level(data: DataSplits, hp: TrainingHparams, net: str, seed: int = 0) -> tuple[Timer, TrainResult]:
    """Wall and CPU seconds of one lottery training (``hp.precision``; bf16 evaluation with bf16 training),
    and its result."""
    model = get_model_spec(net).build((3, 32, 32), 10)
    model.reset_parameters(torch.Generator().manual_seed(seed))
    mask = {n: torch.ones_like(p, dtype=torch.bool) for n, p in model.named_parameters() if n in model.prunable_kinds()}
    eval_dtype = torch.bfloat16 if hp.precision == "bf16" else torch.float32
    with Timer() as timer:
        result = train(model, mask, data, hp, seed, schedule=Schedule(progress=False), eval_dtype=eval_dtype)
    return timer, result


def _worker(data_dir: Path, hp: TrainingHparams, net: str, seed: int, start: Any, done: Any) -> None:
    torch.set_num_threads(1)
    data, _ = load_data(data_dir)
    start.wait()
    done.put(lottery_level(data, hp, net, seed)[0].wall)


def two_workers(data_dir: Path, hp: TrainingHparams, net: str) -> float:
    """Wall seconds of two networks trained at once in two processes of one thread each."""
    ctx = mp.get_context("spawn")
    start, done = ctx.Barrier(3), ctx.Queue()
    workers = [ctx.Process(target=_worker, args=(data_dir, hp, net, seed, start, done)) for seed in (0, 1)]
    for w in workers:
        w.start()
    start.wait()  # both have loaded their data
    began = time.perf_counter()
    for _ in workers:
        done.get()
    seconds = time.perf_counter() - began
    for w in workers:
        w.join()
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--net", choices=sorted(CHANNELS), default="conv2")
    parser.add_argument("--iterations", type=int, help="iterations per training (default: the paper's level)")
    parser.add_argument("--data-dir", type=Path, default=CIFAR_JPEG, help="CIFAR-10 (JPEG copy) (default %(default)s)")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--no-workers", action="store_true", help="skip the 2-workers-against-1 comparison")
    group.add_argument("--workers-only", action="store_true", help="run only the 2-workers-against-1 comparison")
    parser.add_argument("--rounds", type=int, default=1, help="interleaved rounds of that comparison (median)")
    args = parser.parse_args()
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    net = args.net
    sizes = [
        sum(p.numel() for p in m.parameters()) for m in (plain_net(net), get_model_spec(net).build((3, 32, 32), 10))
    ]
    assert sizes[0] == sizes[1], f"the reference {net} has {sizes[0]} parameters, lottery's {sizes[1]}"
    paper = get_preset(net).training
    hp = TrainingHparams(
        lr=paper.lr, batch_size=paper.batch_size, iterations=args.iterations or paper.iterations, eval_every=EVAL_EVERY
    )
    torch.set_num_threads(1)
    data, what = load_data(args.data_dir)
    print(
        f"{net}, {hp.iterations} iterations, eval every {EVAL_EVERY}; {what}; torch {torch.__version__}, "
        f"1 thread; load average at start {os.getloadavg()[0]:.1f}",
        flush=True,
    )
    if not args.workers_only:
        compare_with_plain_loop(data, hp, net)
    if not args.no_workers:
        compare_workers(data, args.data_dir, hp, net, args.rounds)


def compare_with_plain_loop(data: DataSplits, hp: TrainingHparams, net: str) -> None:
    seconds = {"plain loop, full protocol (5K + 10K every evaluation)": reference(data, hp, net)}
    print(f"  plain loop done, load average {os.getloadavg()[0]:.1f}", flush=True)
    precisions = ["fp32"] + (["bf16"] if native_bf16(torch.device("cpu")) else [])
    for precision in precisions:
        s, result = lottery_level(data, replace(hp, precision=precision), net)
        seconds[f"lottery loop.train, {precision}, lazy test evaluation"] = s
        print(
            f"  lottery {precision} done: early stop at iteration {result.summary['early_stop_iteration']} "
            f"(test accuracy {result.summary['test_acc_at_early_stop']:.4f}); test set evaluated "
            f"{len(result.curve.series['test_acc'].iterations)} of {len(result.curve.iterations)} evaluations; "
            f"load average {os.getloadavg()[0]:.1f}",
            flush=True,
        )
    base = seconds["plain loop, full protocol (5K + 10K every evaluation)"]
    print(f"{'':<56} {'wall s':>7} {'ratio':>6} {'CPU s':>7} {'ratio':>6}  (ratio: the plain loop's time / this)")
    for name, t in seconds.items():
        print(f"{name:<56} {t.wall:>7.0f} {base.wall / t.wall:>5.2f}x {t.cpu:>7.0f} {base.cpu / t.cpu:>5.2f}x")


def compare_workers(data: DataSplits, data_dir: Path, hp: TrainingHparams, net: str, rounds: int) -> None:
    """Two fp32 networks one after another in this process against the same two in two worker processes,
    alternating, ``rounds`` times; the median of each side."""
    sequential, parallel = [], []
    for r in range(rounds):
        sequential.append(sum(lottery_level(data, hp, net, seed)[0].wall for seed in (0, 1)))
        parallel.append(two_workers(data_dir, hp, net))
        print(
            f"  round {r + 1}: one after another {sequential[-1]:.0f} s, two workers {parallel[-1]:.0f} s; "
            f"load average {os.getloadavg()[0]:.1f}",
            flush=True,
        )
    one, two = statistics.median(sequential), statistics.median(parallel)
    print(
        f"two fp32 networks (median of {rounds}): one after another in one process {one:.0f} s, in two processes "
        f"of one thread {two:.0f} s: {one / two:.2f}x"
    )


if __name__ == "__main__":
    main()
