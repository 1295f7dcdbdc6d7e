"""Training one masked network: fresh optimizer, masked gradients, evaluation every few
iterations, in-level checkpoints for exact resume."""

import time
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from ..data import BatchStream, DataSplits
from ..errors import LotteryError
from ..storage import load_tensors, save_tensors
from ..hparams import TrainingHparams
from ..models.base import LotteryModel
from ..pruning import Mask, pruned_weights_nonzero
from ..seeds import derive_seed
from .metrics import Curve, summarize
from .optim import learning_rate, make_optimizer, schedule_is_constant
from .rng import restore_rng_state, rng_state

EVAL_BATCH = 2000


@dataclass
class TrainResult:
    summary: dict  # early stop iteration, accuracies, ...
    curve: Curve
    final_state: dict  # state_dict after the last iteration
    snapshot: dict | None = None  # state_dict at ``snapshot_at`` (θk for rewinding)


@torch.inference_mode()
def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor,
             dtype: torch.dtype = torch.float32) -> tuple[float, float]:
    """(mean cross-entropy loss, accuracy) in eval mode. ``dtype``: bfloat16/float16 run the
    model under autocast (faster on CPUs with AMX and on GPUs; loss and accuracy computed in float32)."""
    was_training = model.training
    model.eval()
    loss, correct = 0.0, 0
    for lo in range(0, len(y), EVAL_BATCH):
        with torch.autocast(x.device.type, dtype=dtype, enabled=dtype != torch.float32):
            logits = model(x[lo:lo + EVAL_BATCH]).float()
        loss += F.cross_entropy(logits, y[lo:lo + EVAL_BATCH], reduction="sum").item()
        correct += int((logits.argmax(1) == y[lo:lo + EVAL_BATCH]).sum())
    model.train(was_training)
    return loss / len(y), correct / len(y)


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
    return {"state": {i: {k: v.contiguous() if torch.is_tensor(v) else v for k, v in s.items()}
                      for i, s in state["state"].items()},
            "param_groups": state["param_groups"]}


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


def check_mask_invariant(model: nn.Module, mask: Mask, where: str) -> None:
    revived = pruned_weights_nonzero(model, mask)
    if revived:
        raise LotteryError(f"invariant violated {where}: pruned weights are nonzero in {', '.join(revived)}")


def train(model: nn.Module, mask: Mask, data: DataSplits, hp: TrainingHparams, seed: int, *,
          checkpoint: Path | None = None, checkpoint_every: int = 1000, augment=None,
          start_iteration: int = 0, snapshot_at: int | None = None, debug: bool = False,
          progress: bool = True, description: str = "train", eval_dtype: torch.dtype = torch.float32,
          channels_last: bool | None = None) -> TrainResult:
    """Train ``model`` (already masked and initialized) for ``hp.iterations`` steps.

    Pruned weights stay exactly zero: their gradients are zeroed before every step, so neither
    the gradient nor optimizer state (momentum, Adam moments, weight decay) can revive them.
    ``seed`` fixes the data order and dropout. With ``checkpoint`` the run saves its full state
    every ``checkpoint_every`` iterations and resumes from it, replaying exactly.
    ``start_iteration``: the first step's iteration number (k when rewound to θk: the data order
    and learning-rate schedule continue from there). ``snapshot_at``: also return the state
    at that iteration (θk for rewinding). ``eval_dtype``: precision of evaluations (see evaluate).
    ``channels_last``: train 4-d weights in the channels-last layout (None: where it is faster, see
    :func:`prefers_channels_last`); results agree to float rounding, and every returned state and the
    model afterwards are in the standard layout.
    """
    device = next(model.parameters()).device
    if channels_last is None:
        channels_last = prefers_channels_last(model)
    if channels_last:
        model.to(memory_format=torch.channels_last)
    try:
        return _train(model, mask, data, hp, seed, device, checkpoint=checkpoint, checkpoint_every=checkpoint_every,
                      augment=augment, start_iteration=start_iteration, snapshot_at=snapshot_at, debug=debug,
                      progress=progress, description=description, eval_dtype=eval_dtype)
    finally:
        if channels_last:
            model.to(memory_format=torch.contiguous_format)


def _train(model: nn.Module, mask: Mask, data: DataSplits, hp: TrainingHparams, seed: int, device: torch.device, *,
           checkpoint: Path | None, checkpoint_every: int, augment, start_iteration: int, snapshot_at: int | None,
           debug: bool, progress: bool, description: str, eval_dtype: torch.dtype) -> TrainResult:
    optimizer = make_optimizer(model.parameters(), hp)
    params = dict(model.named_parameters())
    masked = [(params[n], torch.empty_like(params[n]).copy_(m)) for n, m in mask.items() if not bool(m.all())]
    masked_params, mask_values = [p for p, _ in masked], [m for _, m in masked]
    stream = BatchStream(data.train_x, data.train_y, hp.batch_size, derive_seed(seed, "data order"), augment)
    torch.manual_seed(derive_seed(seed, "dropout"))  # dropout draws from the default generator

    curve, best_state, start, snapshot, elapsed = Curve(), None, start_iteration, None, 0.0
    state = load_tensors(checkpoint) if checkpoint else None
    if state is not None:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        match_optimizer_state_layout(optimizer)
        restore_rng_state(state, device)
        curve, best_state, start = Curve(**state["curve"]), state["best_state"], state["iteration"]
        snapshot, elapsed = state.get("snapshot"), state.get("elapsed", 0.0)
    check_mask_invariant(model, mask, "at the start of training")

    def record(iteration: int) -> None:
        nonlocal best_state
        val_loss, val_acc = evaluate(model, data.val_x, data.val_y, eval_dtype)
        _, test_acc = evaluate(model, data.test_x, data.test_y, eval_dtype)
        curve.add(iteration, val_loss, val_acc, test_acc)
        if curve.best_index() == len(curve.val_loss) - 1:
            best_state = contiguous_state(model)

    model.train()
    masked_grads = None
    began = time.perf_counter()
    lr_constant = schedule_is_constant(hp)
    bar = tqdm(total=hp.iterations, initial=start, desc=description, disable=not progress, leave=False,
               unit="it", dynamic_ncols=True)
    for it in range(start, hp.iterations):
        if it % hp.eval_every == 0 and (not curve.iterations or curve.iterations[-1] != it):
            record(it)
            bar.set_postfix(val_loss=f"{curve.val_loss[-1]:.4f}", test_acc=f"{curve.test_acc[-1]:.4f}")
            if checkpoint and it > start and it % checkpoint_every < hp.eval_every:
                save_tensors(checkpoint, {
                    "iteration": it, "model": contiguous_state(model),
                    "optimizer": contiguous_optimizer_state(optimizer), **rng_state(device),
                    "curve": curve.to_dict(), "best_state": best_state, "snapshot": snapshot,
                    "elapsed": elapsed + time.perf_counter() - began})
        if snapshot_at is not None and it == snapshot_at:
            snapshot = contiguous_state(model)
        if not lr_constant:
            for group in optimizer.param_groups:
                group["lr"] = learning_rate(hp, it)
        x, y = stream.batch(it)
        loss = F.cross_entropy(model(x), y)
        optimizer.zero_grad(set_to_none=False)
        loss.backward()
        if masked_params:
            if masked_grads is None:  # zero_grad(set_to_none=False) keeps these tensors from now on
                masked_grads = [p.grad for p in masked_params]
            torch._foreach_mul_(masked_grads, mask_values)
        optimizer.step()
        if debug:
            check_mask_invariant(model, mask, f"after the optimizer step at iteration {it}")
        bar.update(1)
    bar.close()
    if not curve.iterations or curve.iterations[-1] != hp.iterations:
        record(hp.iterations)
    check_mask_invariant(model, mask, "at the end of training")

    final_state = contiguous_state(model)
    _, train_acc_final = evaluate(model, data.train_x, data.train_y, eval_dtype)
    model.load_state_dict(best_state)
    _, train_acc_best = evaluate(model, data.train_x, data.train_y, eval_dtype)
    model.load_state_dict(final_state)
    summary = summarize(curve, train_acc_best, train_acc_final)
    summary["train_seconds"] = elapsed + time.perf_counter() - began
    return TrainResult(summary, curve, final_state, snapshot)
