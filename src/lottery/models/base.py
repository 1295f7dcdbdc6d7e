"""What every lottery model provides: Gaussian Glorot init and a map of which weights may be pruned."""

import torch
from torch import nn

from ..errors import UsageError
from ..kinds import CONV, FC, KINDS, OUTPUT


class LotteryModel(nn.Module):
    """An nn.Module whose conv/linear weights are tagged with a kind (conv, fc, output, shortcut).

    By default every Conv2d weight is ``conv``, every Linear weight ``fc`` and the last Linear
    layer ``output``. Subclasses mark other layers (e.g. ResNet shortcuts) by overriding
    :meth:`prunable_kinds`.
    """

    def prunable_kinds(self) -> dict[str, str]:
        kinds: dict[str, str] = {}
        last_linear = None
        for name, module in self.named_modules():
            if isinstance(module, nn.Conv2d):
                kinds[f"{name}.weight"] = CONV
            elif isinstance(module, nn.Linear):
                kinds[f"{name}.weight"] = FC
                last_linear = f"{name}.weight"
        if last_linear is not None:
            kinds[last_linear] = OUTPUT
        return kinds

    @torch.no_grad()
    def reset_parameters(self, generator: torch.Generator) -> None:
        """Gaussian Glorot weights, zero biases, batch norm at identity with fresh running stats."""
        for module in self.modules():
            if isinstance(module, (nn.Linear, nn.Conv2d)):
                nn.init.xavier_normal_(module.weight, generator=generator)
                if module.bias is not None:
                    module.bias.zero_()
            elif isinstance(module, nn.modules.batchnorm._BatchNorm):
                module.reset_parameters()


def count_weights(model: LotteryModel, kinds: tuple[str, ...] = KINDS) -> int:
    params = dict(model.named_parameters())
    return sum(params[name].numel() for name, kind in model.prunable_kinds().items() if kind in kinds)


def check_image_input(name: str, input_shape: tuple[int, ...], dropout: float) -> None:
    if len(input_shape) != 3:
        raise UsageError(f"{name} needs image data (channels x height x width), got inputs of shape {input_shape}")
    if dropout:
        raise UsageError(f"{name} has no dropout layers; leave --dropout at 0")
