"""Training precision: which dtype the forward and backward passes run in under autocast.

Master weights and optimizer state stay float32 whatever the precision; pruned weights stay exactly
zero (their gradients are masked before every step, as in float32).
"""

import torch

from ..errors import UsageError
from ..hparams import PRECISIONS as PRECISION_NAMES

PRECISIONS = dict(zip(PRECISION_NAMES, (torch.float32, torch.bfloat16, torch.float16)))


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


def native_bf16(device: torch.device) -> bool:
    """Whether bf16 matmuls run natively on ``device``: always on CUDA; on a CPU only with AVX-512-BF16
    or AMX (oneDNN's check). Elsewhere they are emulated, and slower than float32."""
    return device.type != "cpu" or bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())


def fastest_eval_precision(device: torch.device) -> str:
    """The faster exact-enough evaluation precision on ``device`` (EVAL_PRECISIONS' key): bf16 where its
    matmuls are native, else fp32 (emulated bf16 is slower)."""
    return "bf16" if native_bf16(device) else "fp32"


def bf16_warning(device: torch.device, training: str, evaluation: str) -> str | None:
    """One line for a run that asks for bf16 where it is emulated (results are right, only slow)."""
    asked = [what for what, p in (("--precision bf16", training), ("--eval-precision bf16", evaluation)) if p == "bf16"]
    if not asked or native_bf16(device):
        return None
    return (
        f"{' and '.join(asked)}: this CPU has no native bf16 matmuls (AVX-512-BF16 or AMX), so they are "
        "emulated and slower than fp32; results are unaffected"
    )
