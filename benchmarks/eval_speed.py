"""How fast one evaluation pass of Conv-2 runs, by batch size, input layout and precision; and whether
evaluating K networks on the same images in one call (torch.func: stacked weights, vmap) beats K calls.

Conv-2 as it trains on a CPU (lottery's model, channels-last weights), eval mode, inference mode,
CIFAR-shaped random images (speed does not depend on pixel values). Every configuration is timed once
per round, the rounds interleave the configurations (other processes on the cores slow them alike), and
the median over rounds is reported, in images per second: of wall time, and of the process's CPU time,
which with one thread is what the pass itself cost, however busy the cores were with other processes.

    python benchmarks/eval_speed.py                       # 2,000 images, 3 rounds, 1 thread
    python benchmarks/eval_speed.py --images 1000 --rounds 5 --k 2,4
"""

import argparse
import os
import statistics
import time
from collections.abc import Callable
from functools import partial

import lottery  # noqa: F401  (first: sets the speed environment before torch loads)
import torch
import torch.nn.functional as F
from torch.func import functional_call, stack_module_state

from lottery.models import get_model_spec
from lottery.training.precision import native_bf16


def conv2() -> torch.nn.Module:
    model = get_model_spec("conv2").build((3, 32, 32), 10)
    model.reset_parameters(torch.Generator().manual_seed(0))
    return model.to(memory_format=torch.channels_last).eval()  # type: ignore[call-overload]


@torch.inference_mode()
def one_pass(model, x: torch.Tensor, batch: int, dtype: torch.dtype) -> None:
    for lo in range(0, len(x), batch):
        with torch.autocast("cpu", dtype=dtype, enabled=dtype != torch.float32):
            model(x[lo : lo + batch]).float().argmax(1)


def one_by_one(models: list[torch.nn.Module], x: torch.Tensor, batch: int, dtype: torch.dtype) -> None:
    for model in models:
        one_pass(model, x, batch, dtype)


def stacked_call(models: list[torch.nn.Module]):
    """One call that evaluates every model on the same images: their weights stacked, vmap over them."""
    params, buffers = stack_module_state(models)  # type: ignore[arg-type]
    base = models[0]

    def call(p, b, x):
        return functional_call(base, (p, b), (x,))

    batched = torch.func.vmap(call, in_dims=(0, 0, None))
    return lambda x: batched(params, buffers, x)


@torch.inference_mode()
def stacked_pass(call, x: torch.Tensor, batch: int, dtype: torch.dtype) -> None:
    for lo in range(0, len(x), batch):
        with torch.autocast("cpu", dtype=dtype, enabled=dtype != torch.float32):
            call(x[lo : lo + batch]).float().argmax(-1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=2000, help="images per timed pass (default 2000)")
    parser.add_argument("--batches", default="250,500,1000,2000", help="evaluation batch sizes")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--k", default="2", help="networks per stacked call, comma-separated (default 2; empty: none)")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    batches = [int(b) for b in args.batches.split(",")]
    ks = [int(k) for k in args.k.split(",") if k.strip()]
    x = torch.randn(args.images, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    x_last = x.contiguous(memory_format=torch.channels_last)
    dtypes = {"fp32": torch.float32}
    if native_bf16(torch.device("cpu")):
        dtypes["bf16"] = torch.bfloat16
    model = conv2()
    configs: dict[str, tuple[Callable[[], object], int]] = {}
    for dname, dtype in dtypes.items():
        for batch in batches:
            for layout, inputs in (("contiguous", x), ("channels-last", x_last)):
                configs[f"{dname} batch {batch} {layout} input"] = (partial(one_pass, model, inputs, batch, dtype), 1)
        for k in ks:
            models = [conv2() for _ in range(k)]
            call = stacked_call(models)
            batch = min(batches[-1], 1000)
            configs[f"{dname} batch {batch}, {k} networks one by one"] = (
                partial(one_by_one, models, x_last, batch, dtype),
                k,
            )
            configs[f"{dname} batch {batch}, {k} networks stacked (vmap)"] = (
                partial(stacked_pass, call, x_last, batch, dtype),
                k,
            )
    # the stacked call must compute what the separate calls compute
    models = [conv2() for _ in range(2)]
    with torch.inference_mode():
        separate = torch.stack([F.log_softmax(m(x_last[:50]), 1) for m in models])
        together = F.log_softmax(stacked_call(models)(x_last[:50]), -1)
    print(f"stacked vs separate logits, largest difference {float((separate - together).abs().max()):.2e}")
    print(
        f"Conv-2 evaluation, {args.images} images per pass, {args.rounds} interleaved rounds, "
        f"{torch.get_num_threads()} thread(s), torch {torch.__version__}; load average at start "
        f"{os.getloadavg()[0]:.1f}",
        flush=True,
    )
    wall: dict[str, list[float]] = {name: [] for name in configs}
    cpu: dict[str, list[float]] = {name: [] for name in configs}
    for run, _ in configs.values():  # warm-up: oneDNN builds its kernels on first use
        run()
    for _ in range(args.rounds):
        for name, (run, _) in configs.items():
            began, began_cpu = time.perf_counter(), time.process_time()
            run()
            wall[name].append(time.perf_counter() - began)
            cpu[name].append(time.process_time() - began_cpu)
    print(f"{'network-images/s, median of rounds':<48} {'wall':>6} {'CPU':>6}  CPU-time rates of all rounds")
    for name, (_, k) in configs.items():
        wall_rate, cpu_rates = (
            statistics.median(k * args.images / s for s in wall[name]),
            [k * args.images / s for s in cpu[name]],
        )
        print(
            f"{name:<48} {wall_rate:>6.0f} {statistics.median(cpu_rates):>6.0f}  "
            f"({', '.join(f'{r:.0f}' for r in cpu_rates)})"
        )
    print(f"load average at end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
