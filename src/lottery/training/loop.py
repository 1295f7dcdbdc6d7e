"""Training one masked network of any ``nn.Module``: the one-network engine of the shared schedule
(:mod:`schedule`): masked gradients, autocast in the chosen precision, exact resume."""

from pathlib import Path
from typing import cast

import torch
import torch.nn.functional as F
from torch import nn

from ..data import BatchStream, DataSplits
from ..storage import load_tensors
from ..hparams import TrainingHparams
from ..models.base import LotteryModel
from ..pruning import Mask, pruned_weights_nonzero
from ..seeds import derive_seed
from .optim import make_optimizer
from .precision import compute_dtype
from .rng import restore_rng_state, rng_state
from .schedule import DEFAULT_SCHEDULE, Schedule, TrainResult, run_schedule

EVAL_BATCH = 2000  # images per forward pass when evaluating
# Conv nets on a CPU: a batch's activations then stay in the caches (Conv-2's first two activations
# are 256 KB per image in float32). Conv-2, 1 thread, fp32 and bf16: 100 images per pass ran
# 1.2-1.9x as fast as 2,000 (benchmarks/eval_speed.py, docs/performance.md).
CPU_CONV_EVAL_BATCH = 100


def eval_batch_size(model: nn.Module, x: torch.Tensor) -> int:
    """Images per forward pass when evaluating ``model`` on ``x``."""
    if x.device.type == "cpu" and any(p.dim() == 4 for p in model.parameters()):
        return CPU_CONV_EVAL_BATCH
    return EVAL_BATCH


@torch.inference_mode()
def per_example(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, dtype: torch.dtype = torch.float32
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-example cross-entropy (N,) and correctness (N,) in eval mode. ``dtype``: bfloat16/float16
    run the model under autocast (faster on CPUs with AMX and on GPUs; loss computed in float32)."""
    was_training = model.training
    model.eval()
    loss = torch.empty(len(y), device=y.device)
    correct = torch.empty(len(y), dtype=torch.bool, device=y.device)
    batch = eval_batch_size(model, x)
    for lo in range(0, len(y), batch):
        with torch.autocast(x.device.type, dtype=dtype, enabled=dtype != torch.float32):
            logits = model(x[lo : lo + batch]).float()
        loss[lo : lo + batch] = F.cross_entropy(logits, y[lo : lo + batch], reduction="none")
        correct[lo : lo + batch] = logits.argmax(1) == y[lo : lo + batch]
    model.train(was_training)
    return loss, correct


def evaluate(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, dtype: torch.dtype = torch.float32
) -> tuple[float, float]:
    """(mean cross-entropy loss, accuracy) in eval mode; ``dtype`` as in :func:`per_example`."""
    loss, correct = per_example(model, x, y, dtype)
    return float(loss.sum(dtype=torch.float64)) / len(y), float(correct.sum(dtype=torch.float64)) / len(y)


def prefers_channels_last(model: nn.Module) -> bool:
    """lottery's own conv nets on the CPU: oneDNN's convolutions run faster on channels-last weights
    (Conv-2 training with its evaluations, benchmarks/conv_speed.py: 1.24x -> 1.34x the reference
    loop, 1.62x -> 2.53x with bf16 evaluation). Not other models: a forward pass that calls ``.view``
    on activations fails on channels-last ones."""
    if not isinstance(model, LotteryModel):
        return False
    params = list(model.parameters())
    return bool(params) and params[0].device.type == "cpu" and any(p.dim() == 4 for p in params)


def contiguous_state(model: nn.Module) -> dict:
    """A copy of the state dict in the standard (contiguous) layout, whatever layout the model trains in."""
    return {k: v.detach().clone(memory_format=torch.contiguous_format) for k, v in model.state_dict().items()}


def contiguous_optimizer_state(optimizer: torch.optim.Optimizer) -> dict:
    """The optimizer's state dict with per-weight tensors in the standard layout (for checkpoints)."""
    state = optimizer.state_dict()
    return {
        "state": {
            i: {k: v.contiguous() if torch.is_tensor(v) else v for k, v in s.items()} for i, s in state["state"].items()
        },
        "param_groups": state["param_groups"],
    }


def match_optimizer_state_layout(optimizer: torch.optim.Optimizer) -> None:
    """Give every per-weight state tensor (Adam's moments, momentum) its parameter's memory layout:
    the fused Adam kernel walks the tensors' memory in step, so a channels-last weight with
    contiguous moments would silently mix up its entries."""
    for group in optimizer.param_groups:
        for p in group["params"]:
            state = optimizer.state.get(p, {})
            for key, value in state.items():
                if torch.is_tensor(value) and value.shape == p.shape and value.stride() != p.stride():
                    state[key] = torch.empty_like(p).copy_(value)


class ModuleEngine:
    """The schedule's engine for one network of any ``nn.Module`` (K = 1): autograd steps under
    autocast, float32 master weights, gradients of pruned weights zeroed before every step, so
    neither the gradient nor optimizer state (momentum, Adam moments, weight decay) can revive them."""

    k = 1

    def __init__(
        self,
        model: nn.Module,
        mask: Mask,
        data: DataSplits,
        hp: TrainingHparams,
        seed: int,
        *,
        augment,
        eval_dtype: torch.dtype,
    ):
        self.model, self.mask, self.eval_dtype = model, mask, eval_dtype
        self.device = next(model.parameters()).device
        self.dtype = compute_dtype(hp.precision, self.device)
        self.optimizer = make_optimizer(model.parameters(), hp)
        # fp16's narrow range needs loss scaling; bf16 has float32's range and needs none
        self.scaler = torch.amp.GradScaler(self.device.type) if self.dtype == torch.float16 else None
        params = dict(model.named_parameters())
        masked = [(params[n], torch.empty_like(params[n]).copy_(m)) for n, m in mask.items() if not bool(m.all())]
        self.masked_params, self.mask_values = [p for p, _ in masked], [m for _, m in masked]
        self.masked_grads: list[torch.Tensor] | None = None
        self.stream = BatchStream(data.train_x, data.train_y, hp.batch_size, derive_seed(seed, "data order"), augment)
        self.dropout_seed = derive_seed(seed, "dropout")
        torch.manual_seed(self.dropout_seed)  # dropout draws from the default generator
        model.train()

    def step(self, iteration: int) -> None:
        x, y = self.stream.batch(iteration)
        with torch.autocast(self.device.type, dtype=self.dtype, enabled=self.dtype != torch.float32):
            loss = F.cross_entropy(self.model(x), y)
        self.optimizer.zero_grad(set_to_none=False)
        (loss if self.scaler is None else self.scaler.scale(loss)).backward()
        if self.masked_params:
            if self.masked_grads is None:  # zero_grad(set_to_none=False) keeps these tensors from now on
                # backward() has just given every masked parameter its .grad
                self.masked_grads = cast(list[torch.Tensor], [p.grad for p in self.masked_params])
            torch._foreach_mul_(self.masked_grads, self.mask_values)
        if self.scaler is None:
            self.optimizer.step()
        else:
            self.scaler.step(self.optimizer)
            self.scaler.update()

    def evaluate(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        loss, correct = per_example(self.model, x, y, self.eval_dtype)
        return loss.unsqueeze(0), correct.unsqueeze(0)

    def state_of(self, i: int) -> dict:
        return contiguous_state(self.model)

    def load_state(self, i: int, state: dict) -> None:
        self.model.load_state_dict(state)

    def mask_violation(self) -> str | None:
        return ", ".join(pruned_weights_nonzero(self.model, self.mask)) or None

    def checkpoint_payload(self, i: int) -> dict:
        payload = {"optimizer": contiguous_optimizer_state(self.optimizer), **rng_state(self.device)}
        if self.scaler is not None:
            payload["scaler"] = self.scaler.state_dict()
        return payload

    def resume(self, payloads: list[dict]) -> None:
        (state,) = payloads
        self.optimizer.load_state_dict(state["optimizer"])
        match_optimizer_state_layout(self.optimizer)
        if state.get("rng") is not None:
            restore_rng_state(state, self.device)
        else:  # a checkpoint of the stacked engine, whose models draw nothing: nothing drawn yet
            torch.set_rng_state(torch.Generator().manual_seed(self.dropout_seed).get_state())
        if self.scaler is not None and state.get("scaler"):
            self.scaler.load_state_dict(state["scaler"])


def train(
    model: nn.Module,
    mask: Mask,
    data: DataSplits,
    hp: TrainingHparams,
    seed: int,
    schedule: Schedule = DEFAULT_SCHEDULE,
    *,
    checkpoint: Path | None = None,
    augment=None,
    eval_dtype: torch.dtype = torch.float32,
    channels_last: bool | None = None,
) -> TrainResult:
    """Train ``model`` (already masked and initialized) for ``hp.iterations`` steps, in ``hp.precision``.

    Pruned weights stay exactly zero. ``seed`` fixes the data order and dropout. ``schedule``: where the
    run starts, what it evaluates when, checkpoints, θk snapshot, progress (see :class:`Schedule`).
    With ``checkpoint`` the run saves its full state every ``schedule.checkpoint_every`` iterations and
    resumes from it, replaying exactly. ``eval_dtype``: precision of evaluations (see evaluate).
    ``channels_last``: train 4-d weights in the channels-last layout (None: where it is faster, see
    :func:`prefers_channels_last`); results agree to float rounding, and every returned state and the
    model afterwards are in the standard layout.
    """
    if channels_last is None:
        channels_last = prefers_channels_last(model)
    # Module.to takes memory_format at run time; torch's type overloads for it leave it out.
    if channels_last:
        model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
    try:
        engine = ModuleEngine(model, mask, data, hp, seed, augment=augment, eval_dtype=eval_dtype)
        (result,) = run_schedule(
            engine,
            data,
            hp,
            schedule,
            states=[load_tensors(checkpoint) if checkpoint else None],
            checkpoints=[checkpoint],
        )
        return result
    finally:
        if channels_last:
            model.to(memory_format=torch.contiguous_format)  # type: ignore[call-overload]
