"""How fast lottery trains Conv-2, against a plain PyTorch loop timed in the same run.

The Conv-2 counterpart of lenet_speed.py: CIFAR-shaped random data (5,000 validation and 10,000
test images of 3x32x32; 4,500 training images, so that the two train-accuracy passes that end
every run stay small next to the training, as in a 20,000-iteration run), batch 60, Adam 2e-4,
evaluation on the 5K + 10K images every 100 iterations and at the end, both sides. Conv-2 is
trained one network at a time (the batched engine covers fully connected networks), so
lottery's gains here are its fused Adam and, where bf16 matmuls are native, bfloat16 evaluation.

    python benchmarks/conv_speed.py            # 200 iterations, ~10 minutes on 2 busy cores
    python benchmarks/conv_speed.py --short    # 100 iterations
"""

import argparse
import os
import time

import torch
import torch.nn.functional as F
from torch import nn

from lottery.data import DataSplits
from lottery.hparams import TrainingHparams
from lottery.models import get_model_spec
from lottery.training import train
from lottery.training.precision import native_bf16

EVAL_EVERY = 100


def cifar_shaped() -> DataSplits:
    g = torch.Generator().manual_seed(0)

    def draw(n):
        return torch.randn(n, 3, 32, 32, generator=g), torch.randint(0, 10, (n,), generator=g)

    return DataSplits(*draw(4_500), *draw(5_000), *draw(10_000), 10)


def reference(data: DataSplits, iterations: int) -> float:
    model = nn.Sequential(
        nn.Conv2d(3, 64, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(64, 64, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(64 * 16 * 16, 256),
        nn.ReLU(),
        nn.Linear(256, 256),
        nn.ReLU(),
        nn.Linear(256, 10),
    )
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-4)
    g = torch.Generator().manual_seed(0)

    def evaluate(x, y):
        with torch.no_grad():
            for lo in range(0, len(y), 1000):
                logits = model(x[lo : lo + 1000])
                F.cross_entropy(logits, y[lo : lo + 1000]).item()

    began = time.perf_counter()
    for it in range(iterations):
        if it % EVAL_EVERY == 0:
            evaluate(data.val_x, data.val_y)
            evaluate(data.test_x, data.test_y)
        index = torch.randint(0, len(data.train_y), (60,), generator=g)
        loss = F.cross_entropy(model(data.train_x[index]), data.train_y[index])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    evaluate(data.val_x, data.val_y)
    evaluate(data.test_x, data.test_y)
    for _ in range(2):  # train accuracy at the early-stop and at the final weights
        evaluate(data.train_x, data.train_y)
    return time.perf_counter() - began


def lottery_conv2(data: DataSplits, iterations: int, eval_dtype: torch.dtype) -> float:
    model = get_model_spec("conv2").build((3, 32, 32), 10)
    model.reset_parameters(torch.Generator().manual_seed(0))
    mask = {n: torch.ones_like(p, dtype=torch.bool) for n, p in model.named_parameters() if n in model.prunable_kinds()}
    hp = TrainingHparams(lr=2e-4, batch_size=60, iterations=iterations, eval_every=EVAL_EVERY)
    began = time.perf_counter()
    train(model, mask, data, hp, 0, progress=False, eval_dtype=eval_dtype)
    return time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--short", action="store_true")
    parser.add_argument("--iterations", type=int)
    parser.add_argument("--threads", type=int, default=1, help="torch threads for every configuration (default 1)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    iterations = args.iterations or (100 if args.short else 200)
    data = cifar_shaped()
    print(
        f"Conv-2, {iterations} iterations, eval every {EVAL_EVERY} on 5K+10K; torch {torch.__version__}, "
        f"{torch.get_num_threads()} thread(s), load average {os.getloadavg()[0]:.1f}",
        flush=True,
    )
    configs = {
        "reference": lambda: reference(data, iterations),
        "lottery loop.train": lambda: lottery_conv2(data, iterations, torch.float32),
    }
    if native_bf16(torch.device("cpu")):  # emulated bf16 is slower than float32
        configs["lottery loop.train, bf16 eval"] = lambda: lottery_conv2(data, iterations, torch.bfloat16)
    rates = {name: iterations / run() for name, run in configs.items()}
    for name, rate in rates.items():
        print(f"{name:<32} {rate:>8.2f} it/s {rate / rates['reference']:>6.2f}x reference", flush=True)


if __name__ == "__main__":
    main()
