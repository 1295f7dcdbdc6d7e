"""Training precision: which dtype the forward and backward passes run in under autocast.

Master weights and optimizer state stay float32 whatever the precision; pruned weights stay exactly
zero (their gradients are masked before every step, as in float32).
"""

import torch

from ..errors import UsageError

PRECISIONS = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}


def compute_dtype(precision: str, device: torch.device) -> torch.dtype:
    """The dtype of the training matmuls for ``precision`` on ``device`` (float32: no autocast).

    fp16 is refused off CUDA: CPUs without fp16 matmul units would emulate it (slower than float32)
    and still need loss scaling; bf16 has float32's range, needs no scaler and runs natively on CPUs
    with AMX or AVX-512-BF16."""
    if precision not in PRECISIONS:
        raise UsageError(f"unknown training precision {precision!r}; choose one of {', '.join(PRECISIONS)}")
    if precision == "fp16" and device.type != "cuda":
        raise UsageError(f"fp16 training needs a CUDA device (got {device.type}); use --precision bf16 on CPUs")
    return PRECISIONS[precision]
