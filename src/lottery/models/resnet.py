"""The CIFAR-10 ResNet that Frankle & Carbin call "ResNet-18" (Section 4): He et al.'s 20-layer
CIFAR ResNet. conv 16, then 3 stages of 3 residual blocks (two 3x3 convs each) of 16, 32 and 64
filters, global average pool, fc 10; batch norm after every conv (~271K weights).

Where a stage halves the resolution and widens the channels, the shortcut is a strided 1x1 conv
with batch norm. Those ``downsample`` weights are tagged ``shortcut`` so global conv pruning
leaves them alone, as in the paper.
"""

from torch import nn

from ..kinds import SHORTCUT
from .base import LotteryModel, check_image_input
from .registry import register_model

STAGES = (16, 32, 64)
BLOCKS_PER_STAGE = 3


class Block(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.downsample = None
        if stride != 1 or in_channels != out_channels:
            self.downsample = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False), nn.BatchNorm2d(out_channels)
            )

    def forward(self, x):
        out = self.bn1(self.conv1(x)).relu()
        out = self.bn2(self.conv2(out))
        shortcut = x if self.downsample is None else self.downsample(x)
        return (out + shortcut).relu()


class CifarResNet(LotteryModel):
    def __init__(self, in_channels: int, num_classes: int, stages=STAGES, blocks_per_stage=BLOCKS_PER_STAGE):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, stages[0], 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(stages[0])
        blocks, channels = [], stages[0]
        for i, width in enumerate(stages):
            for j in range(blocks_per_stage):
                blocks.append(Block(channels, width, stride=2 if i > 0 and j == 0 else 1))
                channels = width
        self.blocks = nn.Sequential(*blocks)
        self.output = nn.Linear(channels, num_classes)

    def forward(self, x):
        x = self.blocks(self.bn(self.conv(x)).relu())
        return self.output(x.mean(dim=(2, 3)))

    def prunable_kinds(self) -> dict[str, str]:
        kinds = super().prunable_kinds()
        return {name: SHORTCUT if ".downsample." in name else kind for name, kind in kinds.items()}


def _resnet20(input_shape, num_classes, dropout=0.0):
    check_image_input("resnet18", input_shape, dropout)
    return CifarResNet(input_shape[0], num_classes)


# The paper's name, and the name under which the architecture is usually known.
register_model("resnet18", dataset="cifar10")(_resnet20)
register_model("resnet20", dataset="cifar10")(_resnet20)
