"""A whole conv-net level's cost, lottery against the plain loop, from timed parts and a real run's evaluations.

Timing a whole level both ways takes hours of idle cores (``conv_speed.py``). This benchmark times the
parts a level is made of instead, one thread each, in interleaved rounds (median of each part):

* a training step (batch 60, Adam): the plain PyTorch loop (``conv_speed.plain_net``) and lottery's
  engine as ``loop.train`` builds it (channels-last where it pays), in fp32 and, where bf16 matmuls are
  native, in bf16;
* an evaluation of the 5,000 validation and of the 10,000 test images: the plain loop at 1,000 images per
  pass, lottery's ``per_example`` as training calls it.

It then prices every network of a finished run (``--run``, an experiment folder: each level's
``metrics.json`` records its iterations and evaluations) both ways, with the same number of iterations and
evaluations:

* plain loop, full protocol: every evaluation on validation + test, train accuracy on 10,000 images at
  the early stop and the end;
* lottery as it trains by default: validation at every evaluation, the test set at the end on the final and
  the early-stop weights (once where the early stop is the end), train accuracy as above.

Left out on both sides: checkpoints and copies of the early-stop state. Without ``--run`` it prices one
network of ``--iterations``.

    python benchmarks/conv_level.py --run lottery_runs/conv2-cifar10-jpeg-1d3e63d029 --data-dir DIR
    python benchmarks/conv_level.py --iterations 20000
"""

import argparse
import json
import os
import statistics
from collections import defaultdict
from dataclasses import replace
from pathlib import Path

import lottery  # noqa: F401  (first: sets the speed environment before torch loads)
import torch
import torch.nn.functional as F
from conv_speed import CHANNELS, CIFAR_JPEG, Timer, load_data, plain_net

from lottery.data import DataSplits
from lottery.hparams import TrainingHparams
from lottery.models import get_model_spec
from lottery.presets import get_preset
from lottery.training.loop import ModuleEngine, per_example, prefers_channels_last
from lottery.training.precision import native_bf16

EVAL_EVERY = 100
WARMUP_STEPS = 3  # untimed: the first steps allocate the optimizer state and the kernels' buffers
TRAIN_ACCURACY_EVALUATIONS = 2  # at the early-stop and the final weights, on 10,000 training images


def plain_parts(data: DataSplits, hp: TrainingHparams, net: str, steps: int) -> dict[str, float]:
    """CPU seconds of one training step and of one evaluation of each split, plain loop."""
    model = plain_net(net)
    optimizer = torch.optim.Adam(model.parameters(), lr=hp.lr)
    g = torch.Generator().manual_seed(0)

    def evaluate(x: torch.Tensor, y: torch.Tensor) -> None:
        model.eval()
        with torch.no_grad():
            for lo in range(0, len(y), 1000):
                logits = model(x[lo : lo + 1000])
                float(F.cross_entropy(logits, y[lo : lo + 1000], reduction="sum"))
                float((logits.argmax(1) == y[lo : lo + 1000]).sum())
        model.train()

    def step() -> None:
        index = torch.randint(0, len(data.train_y), (hp.batch_size,), generator=g)
        loss = F.cross_entropy(model(data.train_x[index]), data.train_y[index])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    for _ in range(WARMUP_STEPS):
        step()
    with Timer() as train:
        for _ in range(steps):
            step()
    with Timer() as val:
        evaluate(data.val_x, data.val_y)
    with Timer() as test:
        evaluate(data.test_x, data.test_y)
    return {"step": train.cpu / steps, "val": val.cpu, "test": test.cpu}


def lottery_parts(data: DataSplits, hp: TrainingHparams, net: str, steps: int) -> dict[str, float]:
    """The same parts through lottery's engine and evaluation, in ``hp.precision``."""
    model = get_model_spec(net).build((3, 32, 32), 10)
    model.reset_parameters(torch.Generator().manual_seed(0))
    if prefers_channels_last(model):
        model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
    mask = {n: torch.ones_like(p, dtype=torch.bool) for n, p in model.named_parameters() if n in model.prunable_kinds()}
    eval_dtype = torch.bfloat16 if hp.precision == "bf16" else torch.float32
    engine = ModuleEngine(model, mask, data, hp, 0, augment=None, eval_dtype=eval_dtype)
    for it in range(WARMUP_STEPS):
        engine.step(it)
    with Timer() as train:
        for it in range(WARMUP_STEPS, WARMUP_STEPS + steps):
            engine.step(it)
    with Timer() as val:
        per_example(model, data.val_x, data.val_y, eval_dtype)
    with Timer() as test:
        per_example(model, data.test_x, data.test_y, eval_dtype)
    return {"step": train.cpu / steps, "val": val.cpu, "test": test.cpu}


def networks(run: Path) -> list[tuple[str, int, int, int]]:
    """(branch/level, iterations, evaluations, test evaluations lottery makes) of every finished network of
    a run: the test set on the early-stop and the final weights, once where they are the same."""
    found = []
    for path in sorted(run.glob("trial_*/*/level_*/metrics.json")):
        record = json.loads(path.read_text())
        evaluated = record["curve"]["val_loss"]["iterations"]
        tests = 1 if record["summary"]["early_stop_iteration"] == evaluated[-1] else 2
        where = f"{path.parent.parent.name} {path.parent.name}"
        found.append((where, evaluated[-1], len(evaluated), tests))
    if not found:
        raise SystemExit(f"conv_level: error: no finished level in {run}")
    return found


def plain_cost(parts: dict[str, float], iterations: int, evaluations: int) -> float:
    return iterations * parts["step"] + evaluations * (parts["val"] + parts["test"]) + 2 * parts["test"]


def lottery_cost(parts: dict[str, float], iterations: int, evaluations: int, tests: int) -> float:
    tested = tests + TRAIN_ACCURACY_EVALUATIONS  # 10,000 images each, as the test set
    return iterations * parts["step"] + evaluations * parts["val"] + tested * parts["test"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--net", choices=sorted(CHANNELS), default="conv2")
    parser.add_argument("--run", type=Path, help="a finished run's experiment folder, whose networks are priced")
    parser.add_argument("--iterations", type=int, default=20_000, help="without --run: iterations of the network")
    parser.add_argument("--data-dir", type=Path, default=CIFAR_JPEG, help="CIFAR-10 (JPEG copy) (default %(default)s)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds; the median of each part")
    parser.add_argument("--steps", type=int, default=100, help="training steps timed per round")
    args = parser.parse_args()
    torch.set_num_threads(1)
    data, what = load_data(args.data_dir)
    paper = get_preset(args.net).training
    hp = TrainingHparams(lr=paper.lr, batch_size=paper.batch_size, iterations=args.steps, eval_every=EVAL_EVERY)
    sides = {"plain loop": (plain_parts, "fp32"), "lottery fp32": (lottery_parts, "fp32")}
    if native_bf16(torch.device("cpu")):
        sides["lottery bf16"] = (lottery_parts, "bf16")
    print(
        f"{args.net}; {what}; torch {torch.__version__}, 1 thread; {args.rounds} interleaved rounds of "
        f"{args.steps} steps + 1 validation + 1 test evaluation; load average at start {os.getloadavg()[0]:.1f}",
        flush=True,
    )
    timed: dict[str, dict[str, list[float]]] = {side: defaultdict(list) for side in sides}
    for _ in range(args.rounds):
        for side, (time_parts, precision) in sides.items():
            for part, seconds in time_parts(data, replace(hp, precision=precision), args.net, args.steps).items():
                timed[side][part].append(seconds)
    parts = {side: {part: statistics.median(v) for part, v in timed[side].items()} for side in sides}
    print(f"{'CPU seconds (median)':<22} {'train step':>10} {'5K val':>8} {'10K test':>9}")
    for side, p in parts.items():
        print(f"{side:<22} {p['step']:>10.4f} {p['val']:>8.2f} {p['test']:>9.2f}")
    if args.run:
        nets = networks(args.run)
        tests, evaluations = sum(n[3] for n in nets), sum(n[2] for n in nets)
        print(f"{len(nets)} networks of {args.run.name}, {evaluations} evaluations: lottery tests {tests} times")
    else:
        nets = [("one network", args.iterations, args.iterations // EVAL_EVERY + 1, 2)]
    plain = sum(plain_cost(parts["plain loop"], it, ev) for _, it, ev, _ in nets)
    print(f"{'priced CPU hours':<22} {'hours':>6} {'ratio':>6}  (ratio: the plain loop's time / this)")
    print(f"{'plain loop, full':<22} {plain / 3600:>6.2f} {1:>5.2f}x")
    for side in sides:
        if side != "plain loop":
            cost = sum(lottery_cost(parts[side], it, ev, tests) for _, it, ev, tests in nets)
            print(f"{side:<22} {cost / 3600:>6.2f} {plain / cost:>5.2f}x")
    print(f"load average at end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
