"""Training K masked networks of one architecture at once, with the semantics of :func:`loop.train`.

Each network keeps everything that makes its run its own: its weights and mask, its seed (hence
its data order, through the same :class:`BatchStream`), its optimizer state, its learning curve,
early stop, snapshot and checkpoint file. What is shared is the computation: one stacked training
step for all K (see :mod:`stacked_fc`) and one evaluation pass of all K networks over the
images. The schedule is :mod:`schedule`'s, as for ``loop.train``; the results equal K separate
``loop.train`` runs up to float rounding (tests/test_batched.py checks it), and checkpoints have the
one format, one file per network, so a run can be resumed either way.

Models the stacked engine does not support (anything but ``lenet.FullyConnected`` without
dropout), runs with data augmentation and fp16 runs are trained one after another with ``loop.train``.
"""

from dataclasses import dataclass
from pathlib import Path
from typing import cast

import torch
import torch.nn.functional as F
from torch import nn

from ..data import BatchStream, DataSplits
from ..errors import LotteryError
from ..hparams import TrainingHparams
from ..models.lenet import FullyConnected
from ..pruning import Mask
from ..seeds import derive_seed
from ..storage import load_tensors
from .loop import train
from .optim import make_optimizer
from .precision import compute_dtype
from .schedule import DEFAULT_SCHEDULE, Schedule, TrainResult, run_schedule
from .stacked_fc import StackedFC, stackable_fc

EVAL_ROWS = 4096  # rows of (images x networks) per evaluation chunk: keeps activations in cache


@dataclass
class Job:
    """One network to train: ``model`` already initialized and masked, like ``loop.train``'s arguments."""

    model: nn.Module
    mask: Mask
    seed: int
    checkpoint: Path | None = None


def can_batch(models: list[nn.Module], augment=None, precision: str = "fp32") -> bool:
    """Whether :func:`train_many` trains these models together (otherwise one after another).
    fp16 needs loss scaling, which the hand-written stacked step does not do."""
    return augment is None and precision != "fp16" and stackable_fc(models)


def train_many(
    jobs: list[Job],
    data: DataSplits,
    hp: TrainingHparams,
    schedule: Schedule = DEFAULT_SCHEDULE,
    *,
    augment=None,
    eval_dtype: torch.dtype = torch.float32,
    sparse: float | None = None,
) -> list[TrainResult]:
    """``[loop.train(job.model, job.mask, data, hp, job.seed, schedule, checkpoint=job.checkpoint, ...)
    for job in jobs]``, computed together. Every model ends holding its final weights, as after ``loop.train``.

    ``eval_dtype``: precision of the evaluation matmuls (float32: exact; bfloat16: faster on CPUs
    with AMX/AVX-512-BF16 and on GPUs, accuracies within 0.2 percentage points; for models trained
    one by one, the model runs under autocast).
    ``sparse``: train layers whose networks all keep at most this fraction of weights with sparse
    kernels (None: dense kernels only; bf16 training always uses dense kernels).
    """
    if not jobs:
        return []
    if not can_batch([j.model for j in jobs], augment, hp.precision):
        return [
            train(
                j.model,
                j.mask,
                data,
                hp,
                j.seed,
                schedule,
                checkpoint=j.checkpoint,
                augment=augment,
                eval_dtype=eval_dtype,
            )
            for j in jobs
        ]
    states = [load_tensors(j.checkpoint) if j.checkpoint else None for j in jobs]
    # Networks resumed from different iterations (a crash between two checkpoint writes) train apart.
    groups: dict[int | None, list[int]] = {}
    for i, state in enumerate(states):
        groups.setdefault(None if state is None else state["iteration"], []).append(i)
    results: dict[int, TrainResult] = {}
    for members in groups.values():
        group = [jobs[i] for i in members]
        engine = StackedEngine(group, data, hp, eval_dtype=eval_dtype, sparse=sparse)
        trained = run_schedule(
            engine, data, hp, schedule, states=[states[i] for i in members], checkpoints=[j.checkpoint for j in group]
        )
        for i, job, result in zip(members, group, trained):
            job.model.load_state_dict(result.final_state)  # as after loop.train: the model holds its final weights
            results[i] = result
    return [results[i] for i in range(len(jobs))]


@torch.inference_mode()
def evaluate_stacked(
    engine: StackedFC, x: torch.Tensor, y: torch.Tensor, dtype: torch.dtype = torch.float32
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-example cross-entropy (K, N) and correctness (K, N) of all K networks on (x, y)."""
    loss = torch.empty(engine.k, len(y), device=y.device)
    correct = torch.empty(engine.k, len(y), dtype=torch.bool, device=y.device)
    step = max(1, EVAL_ROWS // engine.k)
    weights = engine.eval_weights(dtype)
    for lo in range(0, len(y), step):
        hi = min(lo + step, len(y))
        logits = engine.logits(x[lo:hi], weights)  # (K, n, classes)
        target = y[lo:hi].expand(engine.k, -1)
        loss[:, lo:hi] = F.cross_entropy(logits.transpose(1, 2), target, reduction="none")
        correct[:, lo:hi] = logits.argmax(2) == target
    return loss, correct


def _same(slot, tensor):
    return tensor


def split_optimizer_state(stacked: dict, k: int, unpack=_same) -> dict:
    """Network ``k``'s share of a stacked optimizer's state dict, in the format its own optimizer has.
    ``unpack(slot, tensor)``: the tensor in stacked dense form (for packed sparse parameters)."""

    def part(slot, value):
        if torch.is_tensor(value):
            return (unpack(slot, value)[k] if value.dim() > 0 else value).detach().clone()
        return value

    return {
        "state": {i: {key: part(i, v) for key, v in s.items()} for i, s in stacked["state"].items()},
        "param_groups": [dict(g) for g in stacked["param_groups"]],
    }


def stack_optimizer_states(states: list[dict], pack=_same) -> dict:
    """Inverse of :func:`split_optimizer_state`: K optimizers' state dicts as one stacked state dict."""

    def join(slot, values):
        first = values[0]
        if torch.is_tensor(first) and first.dim() > 0:
            return pack(slot, torch.stack(values))
        return first  # step counts are equal: the networks took the same number of steps

    first = states[0]
    return {
        "state": {
            i: {key: join(i, [s["state"][i][key] for s in states]) for key in first["state"][i]} for i in first["state"]
        },
        "param_groups": first["param_groups"],
    }


class StackedEngine:
    """The schedule's engine for K LeNets stacked into one computation (:class:`StackedFC`): one
    training step for all K on their own batches, one evaluation pass for all K."""

    def __init__(
        self, jobs: list[Job], data: DataSplits, hp: TrainingHparams, *, eval_dtype: torch.dtype, sparse: float | None
    ):
        self.k, self.data, self.eval_dtype = len(jobs), data, eval_dtype
        device = data.train_x.device
        dtype = compute_dtype(hp.precision, device)
        models = cast(list[FullyConnected], [j.model for j in jobs])  # can_batch() admitted only these
        self.stacked = StackedFC(
            models, [j.mask for j in jobs], sparse=sparse if dtype == torch.float32 else None, compute_dtype=dtype
        )
        names = [n for n, _ in jobs[0].model.named_parameters()]
        if self.stacked.param_names != names:
            raise LotteryError(f"internal error: stacked parameters {self.stacked.param_names} != model's {names}")
        self.optimizer = make_optimizer(self.stacked.params, hp)
        # Index streams: BatchStream over 0..n-1 yields the very batches (as row indices) that each
        # network's own BatchStream would, without K permuted copies of the training set.
        rows = torch.arange(len(data.train_y), device=device)
        self.batch = hp.batch_size
        self.streams = [BatchStream(rows, rows, self.batch, derive_seed(j.seed, "data order")) for j in jobs]
        self.index = torch.empty(self.k, self.batch, dtype=torch.long, device=device)
        self.train_x = data.train_x.reshape(len(data.train_y), -1)
        self.x = torch.empty(self.k * self.batch, self.train_x.shape[1], device=device)
        self.y = torch.empty(self.k * self.batch, dtype=data.train_y.dtype, device=device)
        self._cast: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}

    def step(self, iteration: int) -> None:
        k, batch = self.k, self.batch
        torch.stack([s.batch(iteration)[0] for s in self.streams], out=self.index)
        torch.index_select(self.train_x, 0, self.index.view(-1), out=self.x)
        torch.index_select(self.data.train_y, 0, self.index.view(-1), out=self.y)
        self.stacked.compute_grads(self.x.view(k, batch, -1), self.y.view(k, batch))
        self.optimizer.step()
        self.stacked.after_step()

    def _input(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` in the evaluation dtype, cast once per run (the same images are evaluated again and again)."""
        if id(x) not in self._cast:
            self._cast[id(x)] = (x, x.to(self.eval_dtype))  # holding x keeps its id from being reused
        return self._cast[id(x)][1]

    def evaluate(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return evaluate_stacked(self.stacked, self._input(x), y, self.eval_dtype)

    def state_of(self, i: int) -> dict:
        return self.stacked.state_of(i)

    def load_state(self, i: int, state: dict) -> None:
        self.stacked.load_state(i, state)

    def mask_violation(self) -> str | None:
        bad = self.stacked.pruned_nonzero()
        return f"network(s) {bad} of a batch of {self.k}" if bad else None

    def checkpoint_payload(self, i: int) -> dict:
        # No "rng": these models draw nothing from the global generator (no dropout).
        return {"optimizer": split_optimizer_state(self.optimizer.state_dict(), i, self.stacked.unpack)}

    def resume(self, payloads: list[dict]) -> None:
        self.optimizer.load_state_dict(stack_optimizer_states([p["optimizer"] for p in payloads], self.stacked.pack))
