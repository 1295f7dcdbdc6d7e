"""Does torch.compile pay for lottery's one-network training step? Eager and compiled, same run.

One training step (forward, cross-entropy, backward, fused Adam) at batch 60 on random data, for
the models lottery trains one network at a time, eager and under ``torch.compile`` (default
inductor backend), on ``--threads`` threads. Prints the compile time (first step) and the ratio.

    python benchmarks/compile_speed.py                    # conv2 and lenet_300_100, ~2 minutes
    python benchmarks/compile_speed.py --models conv4 --steps 10
"""

import argparse
import time

import lottery  # noqa: F401  (first: sets the speed environment before torch loads)
import torch
import torch.nn.functional as F

from lottery.models import get_model_spec

INPUT_SHAPES = {"lenet_300_100": (1, 28, 28)}  # the others: CIFAR-10 images


def step_seconds(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, steps: int) -> tuple[float, float]:
    """(seconds of the first step, mean seconds per step after a warm-up)."""
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-4, fused=True)

    def step():
        loss = F.cross_entropy(model(x), y)
        optimizer.zero_grad(set_to_none=False)
        loss.backward()
        optimizer.step()

    began = time.perf_counter()
    step()
    first = time.perf_counter() - began
    for _ in range(3):
        step()
    began = time.perf_counter()
    for _ in range(steps):
        step()
    return first, (time.perf_counter() - began) / steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=["conv2", "lenet_300_100"])
    parser.add_argument("--steps", type=int, default=30, help="timed steps per configuration (default 30)")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {args.threads} thread(s), batch 60, {args.steps} timed steps")
    for name in args.models:
        shape = INPUT_SHAPES.get(name, (3, 32, 32))
        model = get_model_spec(name).build(shape, 10)
        model.reset_parameters(torch.Generator().manual_seed(0))
        x, y = torch.randn(60, *shape), torch.randint(0, 10, (60,))
        _, eager = step_seconds(model, x, y, args.steps)
        compile_time, compiled = step_seconds(torch.compile(model), x, y, args.steps)
        print(
            f"{name:<16} eager {eager * 1e3:7.1f} ms/step   compiled {compiled * 1e3:7.1f} ms/step "
            f"(first step {compile_time:.0f} s)   compiled/eager speed {eager / compiled:.2f}x"
        )


if __name__ == "__main__":
    main()
