"""Do sparse kernels make very sparse LeNet-300-100 tickets train faster than dense kernels on this machine?

Three measurements, each dense against sparse at the same density (fraction of weights kept;
the output layer keeps density**0.47 of its weights, as after IMP at the paper's rates 20%/10%):

1. kernels, per layer and batch of 60: forward matmul (dense vs CSR), weight gradient (dense
   matmul vs sampled sparse matmul, torch.sparse.sampled_addmm);
2. a whole training step of K networks (stacked_fc): dense kernels + dense Adam vs the sparse
   layer (CSR forward, packed kept weights stepped by Adam; training/sparse_fc.py);
3. lottery's training of K networks with the paper's evaluation (5K+10K images every 100
   iterations; bf16 where its matmuls are native), in model-iterations per second.

    python benchmarks/sparse_kernels.py [--short] [--threads 1]
"""

import argparse
import math
import os
import statistics
import time
import warnings

import torch

from lottery.data import DataSplits
from lottery.options import EVAL_PRECISIONS
from lottery.hparams import TrainingHparams
from lottery.models import get_model_spec
from lottery.training import Schedule
from lottery.training.batched import Job, train_many
from lottery.training.stacked_fc import StackedFC
from lottery.training.precision import fastest_eval_precision

warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")
LAYERS = ((784, 300), (300, 100), (100, 10))
OUTPUT_EXPONENT = math.log(0.9) / math.log(0.8)  # output layer density = density ** this after IMP


def best_time(fn, repeat: int) -> float:
    """Best of 3 timings of ``repeat`` calls, in microseconds per call."""
    for _ in range(3):
        fn()
    best = float("inf")
    for _ in range(3):
        began = time.perf_counter()
        for _ in range(repeat):
            fn()
        best = min(best, (time.perf_counter() - began) / repeat)
    return best * 1e6


def kernels(densities, repeat: int) -> None:
    print("1. kernels, batch 60, microseconds (best of 3)")
    print(f"{'layer':<10} {'density':>8} {'fwd dense':>10} {'fwd CSR':>8} {'dW dense':>9} {'dW sampled':>11}")
    g = torch.Generator().manual_seed(0)
    for inp, out in LAYERS:
        x, d = torch.randn(60, inp, generator=g), torch.randn(60, out, generator=g)
        w = torch.randn(out, inp, generator=g)
        # The lambdas run inside best_time(), within this iteration, so they see this iteration's tensors.
        fwd_dense = best_time(lambda: x @ w.T, repeat)  # noqa: B023
        dw_dense = best_time(lambda: d.T @ x, repeat)  # noqa: B023
        for density in densities:
            keep = torch.rand(out, inp, generator=g) < density
            csr = (w * keep).to_sparse_csr()
            xt, dt = x.T.contiguous(), d.T.contiguous()
            fwd_csr = best_time(lambda: torch.sparse.mm(csr, xt), repeat)  # noqa: B023
            dw_sampled = best_time(lambda: torch.sparse.sampled_addmm(csr, dt, x, beta=0.0), repeat)  # noqa: B023
            print(
                f"{inp}x{out:<6} {density:>8.0%} {fwd_dense:>10.0f} {fwd_csr:>8.0f} {dw_dense:>9.0f} "
                f"{dw_sampled:>11.0f}"
            )


def masks_at(model, density: float, generator) -> dict:
    out = {}
    for name, kind in model.prunable_kinds().items():
        p = dict(model.named_parameters())[name]
        keep_fraction = density**OUTPUT_EXPONENT if kind == "output" else density
        out[name] = torch.rand(p.shape, generator=generator) < keep_fraction
    return out


def networks(k: int, density: float, seed: int = 0) -> list[Job]:
    g = torch.Generator().manual_seed(seed)
    jobs = []
    for i in range(k):
        model = get_model_spec("lenet_300_100").build((1, 28, 28), 10)
        model.reset_parameters(g)
        mask = masks_at(model, density, g)
        with torch.no_grad():
            for name, p in model.named_parameters():
                if name in mask:
                    p.mul_(mask[name])
        jobs.append(Job(model, mask, seed + i))
    return jobs


def steps(densities, k: int, repeat: int) -> None:
    print(f"\n2. one training step of {k} networks (forward, backward, Adam), microseconds per network")
    print(f"{'density':>8} {'dense':>8} {'sparse':>8} {'speed-up':>9}")
    g = torch.Generator().manual_seed(1)
    x, y = torch.randn(k, 60, 784, generator=g), torch.randint(0, 10, (k, 60), generator=g)
    for density in densities:
        times = {}
        for label, threshold in (("dense", None), ("sparse", 1.0)):
            jobs = networks(k, density)
            engine = StackedFC([j.model for j in jobs], [j.mask for j in jobs], sparse=threshold)
            optimizer = torch.optim.Adam(engine.params, lr=1.2e-3, fused=True)

            def step():  # timed right below, while engine and optimizer are this iteration's
                engine.compute_grads(x, y)  # noqa: B023
                optimizer.step()  # noqa: B023
                engine.after_step()  # noqa: B023

            times[label] = best_time(step, repeat) / k
        print(
            f"{density:>8.0%} {times['dense']:>8.0f} {times['sparse']:>8.0f} {times['dense'] / times['sparse']:>8.2f}x"
        )


def training(densities, k: int, iterations: int, rounds: int) -> None:
    print(
        f"\n3. lottery training of {k} networks, {iterations} iterations, eval every 100 on 5K+10K "
        f"({fastest_eval_precision(torch.device('cpu'))} evaluation), model-iterations/s "
        f"(median of {rounds} interleaved rounds)"
    )
    g = torch.Generator().manual_seed(2)

    def draw(n):
        return torch.randn(n, 1, 28, 28, generator=g), torch.randint(0, 10, (n,), generator=g)

    # 5,500 training images (not 55,000): the per-iteration cost is the same, and the two passes
    # over the training set that end every run (train accuracy) stay negligible, as in a 50K-iteration run.
    data = DataSplits(*draw(5_500), *draw(5_000), *draw(10_000), 10)
    eval_dtype = EVAL_PRECISIONS[fastest_eval_precision(torch.device("cpu"))]
    hp = TrainingHparams(iterations=iterations, eval_every=100)
    print(f"{'density':>8} {'dense':>8} {'sparse':>8} {'speed-up':>9}")
    for density in densities:
        rates = {"dense": [], "sparse": []}
        for _ in range(rounds):
            for label, threshold in (("dense", None), ("sparse", 1.0)):
                jobs = networks(k, density)
                began = time.perf_counter()
                train_many(jobs, data, hp, schedule=Schedule(progress=False), eval_dtype=eval_dtype, sparse=threshold)
                rates[label].append(k * iterations / (time.perf_counter() - began))
        dense, sparse = statistics.median(rates["dense"]), statistics.median(rates["sparse"])
        print(f"{density:>8.0%} {dense:>8.0f} {sparse:>8.0f} {sparse / dense:>8.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--short", action="store_true")
    parser.add_argument("--threads", type=int, help="torch threads (default: torch's)")
    parser.add_argument("--k", type=int, default=4, help="networks trained together (default 4)")
    parser.add_argument(
        "--densities",
        type=lambda t: tuple(map(float, t.split(","))),
        default=(0.2, 0.1, 0.05, 0.02, 0.01),
        metavar="D,D,...",
        help="fractions of weights kept (default 0.2,0.1,0.05,0.02,0.01)",
    )
    parser.add_argument("--skip-kernels", action="store_true", help="only measurements 2 and 3")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    densities = args.densities
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, {os.cpu_count()} CPUs, "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    if not args.skip_kernels:
        kernels(densities, 50 if args.short else 300)
    steps(densities, args.k, 10 if args.short else 100)
    training(densities[-2:] if args.short else densities, args.k, 300 if args.short else 1500, 1 if args.short else 3)


if __name__ == "__main__":
    main()
