"""Conv-2, Conv-4, Conv-6 (Frankle & Carbin, Section 3; scaled-down VGG for CIFAR-10).

Stages of 3x3 'same' convolutions with ReLU, each stage followed by 2x2 max pooling, then fully
connected 256-256 and the 10-way output. With ``dropout`` > 0 the output of each hidden fully
connected layer is dropped (the paper's dropout experiments, Section 3 / Figure 6).
"""

from itertools import pairwise

from torch import nn

from ..errors import UsageError
from .base import LotteryModel
from .registry import register_model

# Output channels of the convolutions in each stage; each stage ends with a 2x2 max pool.
CONV_STAGES = {
    "conv2": ((64, 64),),
    "conv4": ((64, 64), (128, 128)),
    "conv6": ((64, 64), (128, 128), (256, 256)),
}
HIDDEN = (256, 256)


class ConvNet(LotteryModel):
    def __init__(
        self,
        input_shape: tuple[int, ...],
        stages: tuple[tuple[int, ...], ...],
        hidden: tuple[int, ...],
        num_classes: int,
        dropout: float = 0.0,
    ):
        super().__init__()
        channels, height, width = input_shape
        self.conv = nn.ModuleList()
        self.pool_after: set[int] = set()  # indices of the convolutions that end a stage
        for stage in stages:
            for out in stage:
                self.conv.append(nn.Conv2d(channels, out, kernel_size=3, padding=1))
                channels = out
            self.pool_after.add(len(self.conv) - 1)
            height, width = height // 2, width // 2
        if height < 1 or width < 1:
            raise UsageError(
                f"images of shape {tuple(input_shape)} are too small for the {len(stages)} 2x2 poolings of this network"
            )
        sizes = [channels * height * width, *hidden]
        self.fc = nn.ModuleList(nn.Linear(a, b) for a, b in pairwise(sizes))
        self.dropout = nn.Dropout(dropout)
        self.output = nn.Linear(sizes[-1], num_classes)

    def forward(self, x):
        for i, conv in enumerate(self.conv):
            x = conv(x).relu()
            if i in self.pool_after:
                x = nn.functional.max_pool2d(x, 2)
        x = x.flatten(1)
        for layer in self.fc:
            x = self.dropout(layer(x).relu())
        return self.output(x)


def _builder(name: str):
    def build(input_shape, num_classes, dropout=0.0):
        return ConvNet(tuple(input_shape), CONV_STAGES[name], HIDDEN, num_classes, dropout)

    build.__name__ = name
    build.__doc__ = f"{name}: conv stages {CONV_STAGES[name]}, fc {HIDDEN}, output (CIFAR-10 in the paper)"
    return build


for _name in CONV_STAGES:
    register_model(_name, dataset="cifar10")(_builder(_name))
