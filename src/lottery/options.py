"""Run-time options: *how* and *where* an experiment runs, never *what* it computes.

One frozen object shared by the command line, :class:`~lottery.experiments.Experiment`, the
executors and the worker processes (it pickles). None of it is part of an experiment's name.
"""

from dataclasses import dataclass, field
from pathlib import Path

import torch

from .errors import UsageError

EVAL_PRECISIONS = {"fp32": torch.float32, "bf16": torch.bfloat16}


@dataclass(frozen=True)
class SpeedOptions:
    """How an experiment trains (not what: results agree to float rounding whatever is chosen, except
    ``eval_precision="bf16"``, whose accuracies differ from float32 by at most ~0.1 percentage point).

    ``together``: at most this many networks of one level trained in one batched computation.
    ``eval_precision``: fp32 or bf16 matmuls when evaluating.
    ``sparse_below``: on CPU, layers keeping at most this fraction of weights use sparse kernels
    (None: never; the default is where they win on a 2-core AVX-512 CPU, benchmarks/sparse_kernels.py).
    """

    together: int = 1
    eval_precision: str = "fp32"
    sparse_below: float | None = 0.15

    def __post_init__(self):
        if self.together < 1:
            raise UsageError(f"networks trained together must be at least 1, got {self.together}")
        if self.eval_precision not in EVAL_PRECISIONS:
            raise UsageError(f"unknown evaluation precision {self.eval_precision!r}; choose fp32 or bf16")
        if self.sparse_below is not None and not 0 < self.sparse_below <= 1:
            raise UsageError(f"sparse threshold {self.sparse_below} must be in (0, 1]")

    @property
    def eval_dtype(self) -> torch.dtype:
        return EVAL_PRECISIONS[self.eval_precision]


@dataclass(frozen=True)
class RunOptions:
    """``device``: where networks train ("cpu", "cuda", "cuda:1", ...); ``progress``: progress bars;
    ``debug``: check after every step that pruned weights stay zero; ``checkpoint_every``: iterations
    between in-level checkpoints; ``data_dir``: folder with the data set's files, or a tar of images for
    cifar10-jpeg (None: the per-user cache); ``download``: fetch missing data files; ``speed``: see
    :class:`SpeedOptions`; ``test_curve``: evaluate the test set at every evaluation (True: at every
    level; a tuple: at these levels), for Figure 3's curves; otherwise only where a published number
    reads it (the early stop, the end: training/evaluation.py). Either way the results are identical."""

    device: str = "cpu"
    progress: bool = True
    debug: bool = False
    checkpoint_every: int = 1000
    data_dir: Path | None = None
    download: bool = False
    speed: SpeedOptions = field(default_factory=SpeedOptions)
    test_curve: bool | tuple[int, ...] = False

    def __post_init__(self):
        object.__setattr__(self, "device", str(self.device))
        check_device(self.device)
        if self.checkpoint_every < 1:
            raise UsageError(f"--checkpoint-every must be a positive number of iterations, got {self.checkpoint_every}")
        if self.data_dir is not None:  # what it may name is the data set's to say (data.registry.check_data_dir)
            object.__setattr__(self, "data_dir", Path(self.data_dir))
        if isinstance(self.test_curve, tuple) and (not self.test_curve or min(self.test_curve) < 0):
            raise UsageError(
                f"--test-curve takes levels K,L,... of 0 or more, got {','.join(map(str, self.test_curve))!r}"
            )

    def test_curve_at(self, level: int) -> bool:
        """Whether the networks of ``level`` record their whole test curve."""
        return self.test_curve is True or (isinstance(self.test_curve, tuple) and level in self.test_curve)


def check_device(device: str) -> None:
    """A device name torch knows, of a kind this machine has."""
    try:
        kind = torch.device(device).type
    except (RuntimeError, ValueError):
        raise UsageError(f"--device {device!r} is not a device; use cpu, cuda or cuda:N") from None
    if kind == "cuda" and not torch.cuda.is_available():
        raise UsageError(f"--device {device}: this machine has no usable CUDA GPU; use --device cpu")
    index = torch.device(device).index
    if kind == "cuda" and index is not None and index >= torch.cuda.device_count():
        raise UsageError(f"--device {device}: this machine has {torch.cuda.device_count()} CUDA GPU(s)")
    if kind == "mps" and not torch.backends.mps.is_available():
        raise UsageError(f"--device {device}: MPS is not available on this machine; use --device cpu")
    if kind not in ("cpu", "cuda", "mps"):
        raise UsageError(f"--device {device!r}: lottery runs on cpu, cuda or mps")
