"""How fast lottery trains Conv-2 (or Conv-4, Conv-6), against a plain PyTorch loop timed in the same run.

The Conv-2 counterpart of lenet_speed.py: CIFAR-shaped random data (5,000 validation and 10,000
test images of 3x32x32; 4,500 training images, so that the two train-accuracy passes that end
every run stay small next to the training, as in a 20,000-iteration run), batch 60, Adam 2e-4,
evaluation on the 5K + 10K images every 100 iterations and at the end, both sides. Conv-2 is
trained one network at a time (the batched engine covers fully connected networks), so
lottery's gains here are its fused Adam and, where bf16 matmuls are native, bfloat16 evaluation.

    python benchmarks/conv_speed.py            # 200 iterations, ~10 minutes on 2 busy cores
    python benchmarks/conv_speed.py --short    # 100 iterations
    python benchmarks/conv_speed.py --short --net conv4
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
from lottery.training import Schedule, train
from lottery.training.precision import native_bf16

EVAL_EVERY = 100


def cifar_shaped() -> DataSplits:
    g = torch.Generator().manual_seed(0)

    def draw(n):
        return torch.randn(n, 3, 32, 32, generator=g), torch.randint(0, 10, (n,), generator=g)

    return DataSplits(*draw(4_500), *draw(5_000), *draw(10_000), 10)


# The paper's conv nets (Figure 2): 3x3 convolutions in pairs, each pair followed by 2x2 max-pooling,
# then fully connected 256, 256, 10; and their Adam learning rates.
NETS = {
    "conv2": ((64, 64), 2e-4),
    "conv4": ((64, 64, 128, 128), 3e-4),
    "conv6": ((64, 64, 128, 128, 256, 256), 3e-4),
}


def plain_net(net: str) -> nn.Sequential:
    """The reference: the same architecture as plain torch.nn layers."""
    channels, _ = NETS[net]
    layers: list[nn.Module] = []
    width, side = 3, 32
    for i, c in enumerate(channels):
        layers += [nn.Conv2d(width, c, 3, padding=1), nn.ReLU()]
        width = c
        if i % 2:
            layers.append(nn.MaxPool2d(2))
            side //= 2
    layers += [nn.Flatten(), nn.Linear(width * side * side, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU()]
    return nn.Sequential(*layers, nn.Linear(256, 10))


def reference(data: DataSplits, iterations: int, net: str) -> float:
    model = plain_net(net)
    optimizer = torch.optim.Adam(model.parameters(), lr=NETS[net][1])
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


def lottery_model(net: str) -> nn.Module:
    return get_model_spec(net).build((3, 32, 32), 10)


def lottery_conv(data: DataSplits, iterations: int, net: str, eval_dtype: torch.dtype) -> float:
    model = lottery_model(net)
    model.reset_parameters(torch.Generator().manual_seed(0))
    mask = {n: torch.ones_like(p, dtype=torch.bool) for n, p in model.named_parameters() if n in model.prunable_kinds()}
    hp = TrainingHparams(lr=NETS[net][1], batch_size=60, iterations=iterations, eval_every=EVAL_EVERY)
    began = time.perf_counter()
    train(model, mask, data, hp, 0, schedule=Schedule(progress=False), eval_dtype=eval_dtype)
    return time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--short", action="store_true")
    parser.add_argument("--iterations", type=int)
    parser.add_argument("--threads", type=int, default=1, help="torch threads for every configuration (default 1)")
    parser.add_argument("--net", choices=sorted(NETS), default="conv2")
    args = parser.parse_args()
    net = args.net
    sizes = [sum(p.numel() for p in m.parameters()) for m in (plain_net(net), lottery_model(net))]
    assert sizes[0] == sizes[1], f"the reference {net} has {sizes[0]} parameters, lottery's {sizes[1]}"
    torch.set_num_threads(args.threads)
    iterations = args.iterations or (100 if args.short else 200)
    data = cifar_shaped()
    print(
        f"{net}, {iterations} iterations, eval every {EVAL_EVERY} on 5K+10K; torch {torch.__version__}, "
        f"{torch.get_num_threads()} thread(s), load average {os.getloadavg()[0]:.1f}",
        flush=True,
    )
    configs = {
        "reference": lambda: reference(data, iterations, net),
        "lottery loop.train": lambda: lottery_conv(data, iterations, net, torch.float32),
    }
    if native_bf16(torch.device("cpu")):  # emulated bf16 is slower than float32
        configs["lottery loop.train, bf16 eval"] = lambda: lottery_conv(data, iterations, net, torch.bfloat16)
    rates = {name: iterations / run() for name, run in configs.items()}
    for name, rate in rates.items():
        print(f"{name:<32} {rate:>8.2f} it/s {rate / rates['reference']:>6.2f}x reference", flush=True)


if __name__ == "__main__":
    main()
