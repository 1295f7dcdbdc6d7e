"""Find a lottery ticket in your own nn.Module with the Python API, then export it.

Runs in seconds on CPU: a small conv net on scikit-learn's 8x8 digits. Three parts:
1. find_ticket with the built-in training (layer-wise rates, the output layer pruned at half rate);
2. the same search step by step with your own training loop (TicketSearch + train_fn);
3. export the ticket as a plain state dict + masks and load it into a fresh model as
   torch.nn.utils.prune masks.

    python examples/own_model.py [--levels 4] [--out ticket.pt]
"""

import argparse
import tempfile
from pathlib import Path

import torch
from sklearn.datasets import load_digits
from torch import nn

from lottery.api import TicketSearch, find_ticket
from lottery.export import load_into, masks_from_model, save_ticket


class DigitsNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2))
        self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(16 * 4 * 4, 64), nn.ReLU(), nn.Linear(64, 10))

    def forward(self, x):
        return self.classifier(self.features(x))


def digits():
    """(train, val, test) pairs of (images N x 1 x 8 x 8, labels)."""
    bunch = load_digits()
    x = torch.tensor(bunch.images, dtype=torch.float32).unsqueeze(1) / 16.0
    y = torch.tensor(bunch.target)
    order = torch.randperm(len(y), generator=torch.Generator().manual_seed(0))
    test, val, train = order[:300], order[300:600], order[600:]
    return (x[train], y[train]), (x[val], y[val]), (x[test], y[test])


def accuracy(model, data):
    x, y = data
    model.eval()
    with torch.no_grad():
        return (model(x).argmax(1) == y).float().mean().item()


def my_training(train, epochs=5):
    """Your own loop: any optimizer, any loss. Call apply_mask() after each step."""

    def train_fn(model, apply_mask):
        opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
        model.train()
        x, y = train
        for epoch in range(epochs):
            for batch in torch.randperm(len(y), generator=torch.Generator().manual_seed(epoch)).split(50):
                opt.zero_grad()
                nn.functional.cross_entropy(model(x[batch]), y[batch]).backward()
                opt.step()
                apply_mask()
        return {"epochs": epochs}

    return train_fn


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--levels", type=int, default=4)
    parser.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "digits_ticket.pt")
    args = parser.parse_args()
    torch.set_num_threads(1)  # tiny network: one thread is fastest
    train, val, test = digits()

    print("1. find_ticket with the built-in training")
    torch.manual_seed(0)
    model = DigitsNet()
    ticket = find_ticket(
        model,
        train,
        val,
        test_data=test,
        levels=args.levels,
        rate=0.3,
        rates={"classifier.3.weight": 0.15},
        iterations=600,
        eval_every=100,
        batch_size=50,
        lr=2e-3,
    )
    for record in ticket.history:
        s = record["summary"]
        print(
            f"   level {record['level']}: {100 * record['density']:5.1f}% of weights left, test accuracy "
            f"{100 * s['test_acc_at_early_stop']:.1f}% (early stop at iteration {s['early_stop_iteration']})"
        )

    print("2. the same search step by step, with your own training loop")
    torch.manual_seed(0)
    model = DigitsNet()
    search = TicketSearch(model, prunable=lambda name, p: p.dim() > 1, global_rate=0.3)  # ranked across layers
    for level in range(args.levels + 1):
        search.train_level(my_training(train))
        print(f"   level {level}: {100 * search.density:5.1f}% left, test accuracy {100 * accuracy(model, test):.1f}%")
        if level < args.levels:
            search.prune()
        search.reset()

    print("3. export the ticket and load it as torch.nn.utils.prune masks")
    save_ticket(args.out, model, search.masks, meta={"example": "digits"})
    fresh = DigitsNet()
    load_into(fresh, args.out)  # weights + prune.custom_from_mask on each pruned layer
    my_training(train)(fresh, lambda: None)  # torch's masks alone now keep pruned weights at zero
    kept = masks_from_model(fresh)
    zeros = sum(int((fresh.get_submodule(n.rsplit(".", 1)[0]).weight[~m] != 0).sum()) for n, m in kept.items())
    print(
        f"   {args.out}: retrained from the file to test accuracy {100 * accuracy(fresh, test):.1f}%, "
        f"{zeros} pruned weights nonzero"
    )


if __name__ == "__main__":
    main()
