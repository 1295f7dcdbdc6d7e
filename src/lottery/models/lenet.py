"""LeNet-300-100 (Frankle & Carbin, Section 2): 784-300-100-10 fully connected, ReLU."""

import math
from itertools import pairwise

from torch import nn

from ..errors import UsageError
from .base import LotteryModel
from .registry import register_model


class FullyConnected(LotteryModel):
    def __init__(self, input_shape: tuple[int, ...], hidden: tuple[int, ...], num_classes: int):
        super().__init__()
        sizes = [math.prod(input_shape), *hidden]
        self.hidden = nn.ModuleList(nn.Linear(a, b) for a, b in pairwise(sizes))
        self.output = nn.Linear(sizes[-1], num_classes)

    def forward(self, x):
        x = x.flatten(1)
        for layer in self.hidden:
            x = layer(x).relu()
        return self.output(x)


@register_model("lenet_300_100", dataset="mnist")
def lenet_300_100(input_shape, num_classes, dropout=0.0):
    if dropout:
        raise UsageError("lenet_300_100 has no dropout layers; leave --dropout at 0")
    return FullyConnected(input_shape, (300, 100), num_classes)
