"""Where the time of lottery's batched LeNet training goes: timers around each part of ``train_many``.

Trains K LeNet-300-100 networks together on MNIST-shaped random data with the paper's schedule
(batch 60, Adam, evaluation on 5K + 10K images every 100 iterations; bf16 where its matmuls are native), one thread,
and splits the wall time into the training step's forward/backward (``StackedFC.compute_grads``),
the Adam step, the evaluations (including the two train-accuracy passes on 10K training images that
end a run), and the rest (batch gather, Python), each per iteration of all K networks.
``--precision bf16`` trains with bfloat16 matmuls (the ``--precision`` of ``lottery run``).

    python benchmarks/lenet_breakdown.py [--k 8] [--iterations 2000] [--eval-precision fp32] [--precision bf16]
"""

import argparse
import time
from contextlib import contextmanager

import lottery  # noqa: F401  (first: sets the speed environment before torch loads)
import torch

from lenet_speed import hparams, lenets, mnist_shaped
from dataclasses import replace

from lottery.options import EVAL_PRECISIONS
from lottery.training import Schedule
from lottery.training.batched import StackedEngine, train_many
from lottery.training.stacked_fc import StackedFC
from lottery.training.precision import fastest_eval_precision


@contextmanager
def timers(parts: dict[str, tuple[object, str]]):
    """Replace each ``owner.method`` by a timed version for the duration; yields name -> seconds."""
    spent = {name: 0.0 for name in parts}
    originals = {name: getattr(owner, method) for name, (owner, method) in parts.items()}

    def timed(name, fn):
        def wrapper(*args, **kwargs):
            began = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                spent[name] += time.perf_counter() - began

        return wrapper

    for name, (owner, method) in parts.items():
        setattr(owner, method, timed(name, originals[name]))
    try:
        yield spent
    finally:
        for name, (owner, method) in parts.items():
            setattr(owner, method, originals[name])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--k", type=int, default=8, help="networks trained together (default 8)")
    parser.add_argument("--iterations", type=int, default=2000)
    parser.add_argument(
        "--eval-precision",
        choices=sorted(EVAL_PRECISIONS),
        default=fastest_eval_precision(torch.device("cpu")),
        help="default: bf16 where its matmuls are native, else fp32",
    )
    parser.add_argument("--precision", choices=["fp32", "bf16"], default="fp32", help="training precision")
    args = parser.parse_args()
    torch.set_num_threads(1)
    data = mnist_shaped("cpu")
    dtype = EVAL_PRECISIONS[args.eval_precision]
    train_many(
        lenets(data, args.k, 0),
        data,
        replace(hparams(50), precision=args.precision),
        schedule=Schedule(progress=False),
        eval_dtype=dtype,
    )  # warm-up
    parts = {
        "forward + backward": (StackedFC, "compute_grads"),
        "Adam step": (torch.optim.Adam, "step"),
        "evaluations": (StackedEngine, "evaluate"),
    }
    with timers(parts) as spent:
        began = time.perf_counter()
        train_many(
            lenets(data, args.k, 0),
            data,
            replace(hparams(args.iterations), precision=args.precision),
            schedule=Schedule(progress=False),
            eval_dtype=dtype,
        )
        total = time.perf_counter() - began
    spent["batch gather, Python, rest"] = total - sum(spent.values())
    print(
        f"K={args.k}, {args.iterations} iterations, {args.precision} training, {args.eval_precision} evaluation, "
        f"1 thread: "
        f"{total / args.iterations * 1e3:.2f} ms per iteration of all {args.k} networks "
        f"({args.k * args.iterations / total:.0f} model-iterations/s)"
    )
    for name, seconds in spent.items():
        print(f"  {name:<28} {seconds / args.iterations * 1e3:6.2f} ms  {seconds / total:6.1%}")
    reached = args.k * BATCH * training_flops() * args.iterations / spent["forward + backward"] / 1e9
    ceiling = matmul_ceiling(torch.bfloat16 if args.precision == "bf16" else torch.float32)
    print(
        f"forward + backward: {reached:.0f} GFLOP/s, {reached / ceiling:.0%} of what one large "
        f"{args.precision} matmul reaches on this thread ({ceiling:.0f} GFLOP/s, 1024x1024x1024)"
    )


BATCH = 60  # the paper's batch size, as in hparams()


def training_flops() -> int:
    """FLOPs of one example's training step of LeNet-300-100: the forward matmuls, the weight gradients,
    and the input gradients of every layer but the first (each multiply-add is 2 FLOPs)."""
    layers = [(784, 300), (300, 100), (100, 10)]
    macs = sum(i * o for i, o in layers)
    return 2 * (2 * macs + sum(i * o for i, o in layers[1:]))


def matmul_ceiling(dtype: torch.dtype, n: int = 1024, repeat: int = 5) -> float:
    """GFLOP/s of a large square matmul on this thread: the practical peak of the core for ``dtype``."""
    a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
    a @ b  # warm-up
    best = min(_timed(lambda: a @ b) for _ in range(repeat))
    return 2 * n**3 / best / 1e9


def _timed(fn) -> float:
    began = time.perf_counter()
    fn()
    return time.perf_counter() - began


if __name__ == "__main__":
    main()
