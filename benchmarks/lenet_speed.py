"""How fast lottery trains LeNet-300-100, against a plain PyTorch loop timed in the same run.

Every configuration trains on MNIST-shaped random data (55,000 train, 5,000 validation, 10,000
test images of 1x28x28, batch 60, Adam 1.2e-3) for the same number of iterations, evaluates on
the 5K validation + 10K test images every 100 iterations, and ends by measuring train accuracy
twice (at the early-stop and the final weights: two passes over the 55K training images), which
is what lottery does at the end of every level (on a 10K subset by default; here on all of them,
like the reference loop). Reported: model-iterations per second (networks x iterations / wall
seconds, evaluations included) and the ratio to the reference loop.

* ``reference``: nn.Sequential + torch.optim.Adam (default options), index-sampled batches,
  evaluation under no_grad; timed at torch's default thread count and at 1 thread, and the
  faster of the two is the baseline of every ratio (the conservative choice).
* ``loop.train``: lottery's one-network loop (fused Adam, masked gradients).
* ``batched K=k``: lottery's training of k networks at once (training/batched.py), with exact
  float32 evaluation or bfloat16 evaluation.
* ``2 processes``: both cores used the way ``lottery run --workers 2 --batch-networks k`` uses
  them: two worker processes (lottery's LocalExecutor), one thread each, k networks each.

lottery's configurations run on ``--threads`` threads (default 1: on a machine whose cores are
busy with other work, two OpenMP threads per process are several times slower than one).

The machine may be shared: configurations are interleaved round after round; the median and the
best round are reported (other work only ever slows a round down, so the best round is closest to
what the machine can do), each with its ratio to the faster reference.

    python benchmarks/lenet_speed.py            # ~10 minutes on 2 cores
    python benchmarks/lenet_speed.py --short    # ~1 minute
"""

import argparse
import os
import platform
import statistics
import time

import lottery  # noqa: F401  (first: sets OMP_WAIT_POLICY=PASSIVE before torch loads, for every configuration)
import torch
import torch.nn.functional as F
from torch import nn

from lottery.data import DataSplits
from lottery.executors import LocalExecutor
from lottery.hparams import TrainingHparams
from lottery.models import get_model_spec
from lottery.training import Schedule, train
from lottery.training.batched import Job, train_many
from lottery.training.precision import native_bf16

EVAL_EVERY = 100


# No progress bars; train accuracy on the whole training set (no subset).
QUIET = Schedule(progress=False, train_accuracy_examples=None)


def mnist_shaped(device: str) -> DataSplits:
    g = torch.Generator().manual_seed(0)

    def draw(n):
        return torch.randn(n, 1, 28, 28, generator=g), torch.randint(0, 10, (n,), generator=g)

    return DataSplits(*draw(55_000), *draw(5_000), *draw(10_000), 10).to(device)


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


DEFAULT_THREADS = torch.get_num_threads()


def reference(data: DataSplits, iterations: int, threads: int | None) -> float:
    """The plain loop anyone would write (``threads``: None for torch's default). Returns wall seconds."""
    previous = torch.get_num_threads()
    torch.set_num_threads(threads or DEFAULT_THREADS)
    device = data.train_x.device
    try:
        model = nn.Sequential(
            nn.Flatten(), nn.Linear(784, 300), nn.ReLU(), nn.Linear(300, 100), nn.ReLU(), nn.Linear(100, 10)
        ).to(device)
        optimizer = torch.optim.Adam(model.parameters(), lr=1.2e-3)
        g = torch.Generator(device=device).manual_seed(0)

        def evaluate(x, y):
            with torch.no_grad():
                logits = model(x)
                return F.cross_entropy(logits, y).item(), (logits.argmax(1) == y).float().mean().item()

        began = time.perf_counter()
        for it in range(iterations):
            if it % EVAL_EVERY == 0:
                evaluate(data.val_x, data.val_y)
                evaluate(data.test_x, data.test_y)
            index = torch.randint(0, len(data.train_y), (60,), generator=g, device=device)
            loss = F.cross_entropy(model(data.train_x[index]), data.train_y[index])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        evaluate(data.val_x, data.val_y)
        evaluate(data.test_x, data.test_y)
        for _ in range(2):  # train accuracy at the early-stop and at the final weights
            evaluate(data.train_x, data.train_y)
        sync(str(device))
        return time.perf_counter() - began
    finally:
        torch.set_num_threads(previous)


def lenets(data: DataSplits, k: int, first_seed: int) -> list[Job]:
    jobs = []
    for seed in range(first_seed, first_seed + k):
        model = get_model_spec("lenet_300_100").build(data.input_shape, data.num_classes).to(data.train_x.device)
        model.reset_parameters(torch.Generator().manual_seed(seed))
        mask = {
            n: torch.ones_like(p, dtype=torch.bool) for n, p in model.named_parameters() if n in model.prunable_kinds()
        }
        jobs.append(Job(model, mask, seed))
    return jobs


def hparams(iterations: int) -> TrainingHparams:
    return TrainingHparams(optimizer="adam", lr=1.2e-3, batch_size=60, iterations=iterations, eval_every=EVAL_EVERY)


def lottery_loop(data: DataSplits, iterations: int) -> float:
    (job,) = lenets(data, 1, 0)
    began = time.perf_counter()
    train(
        job.model,
        job.mask,
        data,
        hparams(iterations),
        job.seed,
        schedule=QUIET,
    )
    sync(str(data.train_x.device))
    return time.perf_counter() - began


def lottery_batched(data: DataSplits, iterations: int, k: int, eval_dtype: torch.dtype) -> float:
    jobs = lenets(data, k, 0)
    began = time.perf_counter()
    train_many(jobs, data, hparams(iterations), QUIET, eval_dtype=eval_dtype)
    sync(str(data.train_x.device))
    return time.perf_counter() - began


_DATA: dict[str, DataSplits] = {}  # per worker process: built once, outside the timed region


def timed_share(task: tuple) -> float:
    """Worker side of the 2-process configuration: wait for the common start, train, return the end time."""
    k, iterations, start_at, first_seed, eval_dtype = task
    data = _DATA.setdefault("cpu", mnist_shaped("cpu"))
    jobs = lenets(data, k, first_seed)
    while time.time() < start_at:
        time.sleep(0.001)
    train_many(jobs, data, hparams(iterations), QUIET, eval_dtype=eval_dtype)
    return time.time()


def two_processes(executor: LocalExecutor, k: int, iterations: int, eval_dtype: torch.dtype) -> float:
    """Wall seconds for two workers training k networks each, started together."""
    start_at = time.time() + 0.5
    ends = executor.map(
        timed_share, [(k, iterations, start_at, 0, eval_dtype), (k, iterations, start_at, 100, eval_dtype)]
    )
    return max(ends) - start_at


def sweep_work(trials: int, levels: int, controls: int, processes: int) -> int:
    """Network trainings the paper's sweep costs, run level by level split over ``processes`` (as
    ``lottery run --workers P --batch-networks K`` does): a level's trainings take as long as its
    largest share, so a level of n networks costs P x ceil(n / P) network-trainings of wall time."""
    per_level = [trials] + [trials * (1 + controls)] * levels  # level 0: the dense networks only
    return sum(processes * -(-n // processes) for n in per_level)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--short", action="store_true", help="few iterations and rounds (a quick check)")
    parser.add_argument("--iterations", type=int, help="training iterations per configuration (default 2000)")
    parser.add_argument("--rounds", type=int, help="interleaved rounds (default 3)")
    parser.add_argument("--k", type=int, default=8, help="networks trained together (default 8)")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--threads", type=int, default=1, help="torch threads for lottery's configurations (default 1)")
    g = parser.add_argument_group("the paper's LeNet sweep, for the estimate")
    g.add_argument("--sweep-trials", type=int, default=5, help="trials (default 5)")
    g.add_argument(
        "--sweep-levels", type=int, default=15, help="pruning levels after the dense one (default 15: Pm 3.5%%)"
    )
    g.add_argument(
        "--sweep-controls",
        type=int,
        nargs="+",
        default=[1, 2],
        metavar="N",
        help="control networks per ticket at levels >= 1, one estimate each (default 1 2: one reinit "
        "draw, as in the paper's Figures 3-4; and one reinit + one random-pruning draw)",
    )
    args = parser.parse_args()
    iterations = args.iterations or (300 if args.short else 2000)
    short_length = max(EVAL_EVERY, iterations // 5)  # second length: separates per-iteration from per-run cost
    rounds = args.rounds or (1 if args.short else 3)
    torch.set_num_threads(args.threads)
    data = mnist_shaped(args.device)
    k = args.k
    # bf16 evaluation only where bf16 matmuls are native: emulated, they are slower than float32.
    bf16 = native_bf16(torch.device(args.device))
    fast_eval, eval_label = (torch.bfloat16, ", bf16") if bf16 else (torch.float32, "")
    # name -> (networks trained at once, worker processes, run(iterations) -> wall seconds)
    configs = {
        "reference (default threads)": (1, 1, lambda n: reference(data, n, None)),
        "reference (1 thread)": (1, 1, lambda n: reference(data, n, 1)),
        "lottery loop.train": (1, 1, lambda n: lottery_loop(data, n)),
        "lottery batched K=1": (1, 1, lambda n: lottery_batched(data, n, 1, torch.float32)),
        f"lottery batched K={k}": (k, 1, lambda n: lottery_batched(data, n, k, torch.float32)),
    }
    if bf16:
        configs[f"lottery batched K={k}, bf16 eval"] = (k, 1, lambda n: lottery_batched(data, n, k, fast_eval))
    executor = None
    if args.device == "cpu" and (os.cpu_count() or 1) >= 2:
        executor = LocalExecutor(workers=2).__enter__()
        # start the workers, build their data
        executor.map(timed_share, [(1, 20, 0.0, 0, torch.float32), (1, 20, 0.0, 1, torch.float32)])
        configs[f"lottery 2 processes x K={k}{eval_label}"] = (
            2 * k,
            2,
            lambda n: two_processes(executor, k, n, fast_eval),
        )
    print(
        f"LeNet-300-100, {iterations} (and {short_length}) iterations per configuration, eval every {EVAL_EVERY} "
        f"on 5K+10K, {rounds} interleaved round(s); device {args.device}, torch {torch.__version__}, "
        f"{os.cpu_count()} CPUs, lottery threads {torch.get_num_threads()}, {platform.processor() or '?'}; "
        f"load average at start {os.getloadavg()[0]:.1f}",
        flush=True,
    )
    if not bf16:
        print("no native bf16 matmuls on this device: every configuration evaluates in float32", flush=True)
    reference(data, 20, None), lottery_batched(data, 20, k, fast_eval), lottery_loop(data, 20)  # warm-up
    rates: dict[str, list[float]] = {name: [] for name in configs}
    run_seconds: dict[str, list[float]] = {name: [] for name in configs}  # one 50K-iteration run per network
    for r in range(rounds):
        for name, (models, _, run) in configs.items():
            long, short = run(iterations), run(short_length)
            rates[name].append(models * iterations / long)
            per_iteration = (long - short) / (iterations - short_length)
            run_seconds[name].append((long + (50_000 - iterations) * per_iteration) / models)
        print(f"round {r + 1}/{rounds} done (load average {os.getloadavg()[0]:.1f})", flush=True)
    if executor is not None:
        executor.__exit__(None, None, None)
    median = {name: statistics.median(values) for name, values in rates.items()}
    best_of = {name: max(values) for name, values in rates.items()}
    baseline = max(median["reference (default threads)"], median["reference (1 thread)"])
    best_baseline = max(best_of["reference (default threads)"], best_of["reference (1 thread)"])
    print("\nmodel-iterations/s; ratios to the faster reference (by median, by best round)")
    print(f"{'configuration':<36} {'median':>7} {'ratio':>6} {'best':>7} {'ratio':>6}  all rounds")
    for name, values in rates.items():
        print(
            f"{name:<36} {median[name]:>7.0f} {median[name] / baseline:>6.2f} {best_of[name]:>7.0f} "
            f"{best_of[name] / best_baseline:>6.2f}  {', '.join(f'{v:.0f}' for v in values)}"
        )

    def sweep_hours(name: str, controls: int) -> float:
        work = sweep_work(args.sweep_trials, args.sweep_levels, controls, configs[name][1])
        return work * statistics.median(run_seconds[name]) / 3600

    best = max(median, key=median.get)
    reference_name = max(("reference (default threads)", "reference (1 thread)"), key=median.get)
    print(
        f"\npaper LeNet sweep ({args.sweep_trials} trials, dense + {args.sweep_levels} pruning levels, 50,000 "
        f"iterations per training), every level at dense speed, per-run cost extrapolated from the "
        f"{short_length}- and {iterations}-iteration runs:"
    )
    for controls in args.sweep_controls:
        networks = sweep_work(args.sweep_trials, args.sweep_levels, controls, 1)
        print(
            f"  ticket + {controls} control(s) per level, {networks} trainings: "
            f"{sweep_hours(best, controls):.1f} h with '{best}', "
            f"{sweep_hours(reference_name, controls):.1f} h with '{reference_name}'"
        )


if __name__ == "__main__":
    main()
