"""VGG-19 for CIFAR-10 as in Frankle & Carbin, Section 4: 3x3 convs with batch norm,
2x64 pool 2x128 pool 4x256 pool 4x512 pool 4x512, global average pool, fc 10 (~20.0M weights)."""

from torch import nn

from ..errors import UsageError
from .base import LotteryModel, check_image_input
from .registry import register_model

POOL = "pool"
VGG19_PLAN = (64, 64, POOL, 128, 128, POOL, 256, 256, 256, 256, POOL, 512, 512, 512, 512, POOL, 512, 512, 512, 512)


class ConvBlock(nn.Module):
    """conv 3x3 (no bias: batch norm's shift makes it redundant) -> batch norm -> ReLU."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(out_channels)

    def forward(self, x):
        return self.bn(self.conv(x)).relu()


class VGG(LotteryModel):
    def __init__(self, in_channels: int, plan: tuple, num_classes: int):
        super().__init__()
        layers: list[nn.Module] = []
        channels = in_channels
        for step in plan:
            if step == POOL:
                layers.append(nn.MaxPool2d(2))
            else:
                layers.append(ConvBlock(channels, step))
                channels = step
        self.features = nn.Sequential(*layers)
        self.output = nn.Linear(channels, num_classes)

    def forward(self, x):
        # Global average pool: on 32x32 inputs the features are 2x2 here, as in the paper's avg-pool.
        return self.output(self.features(x).mean(dim=(2, 3)))


@register_model("vgg19", dataset="cifar10")
def vgg19(input_shape, num_classes, dropout=0.0):
    check_image_input("vgg19", input_shape, dropout)
    if min(input_shape[1:]) < 16:
        raise UsageError(f"vgg19 pools four times and needs images of at least 16x16, got {input_shape}")
    return VGG(input_shape[0], VGG19_PLAN, num_classes)
