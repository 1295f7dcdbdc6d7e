"""Training one masked network: fresh optimizer, masked gradients, evaluation every few
iterations, in-level checkpoints for exact resume."""

import copy
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
from ..pruning import Mask, pruned_weights_nonzero
from ..seeds import derive_seed
from .metrics import Curve, summarize
from .optim import learning_rate, make_optimizer, schedule_is_constant

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


def check_mask_invariant(model: nn.Module, mask: Mask, where: str) -> None:
    revived = pruned_weights_nonzero(model, mask)
    if revived:
        raise LotteryError(f"invariant violated {where}: pruned weights are nonzero in {', '.join(revived)}")


def train(model: nn.Module, mask: Mask, data: DataSplits, hp: TrainingHparams, seed: int, *,
          checkpoint: Path | None = None, checkpoint_every: int = 1000, augment=None,
          start_iteration: int = 0, snapshot_at: int | None = None, debug: bool = False,
          progress: bool = True, description: str = "train", eval_dtype: torch.dtype = torch.float32) -> TrainResult:
    """Train ``model`` (already masked and initialized) for ``hp.iterations`` steps.

    Pruned weights stay exactly zero: their gradients are zeroed before every step, so neither
    the gradient nor optimizer state (momentum, Adam moments, weight decay) can revive them.
    ``seed`` fixes the data order and dropout. With ``checkpoint`` the run saves its full state
    every ``checkpoint_every`` iterations and resumes from it, replaying exactly.
    ``start_iteration``: the first step's iteration number (k when rewound to θk: the data order
    and learning-rate schedule continue from there). ``snapshot_at``: also return the state
    at that iteration (θk for rewinding). ``eval_dtype``: precision of evaluations (see evaluate).
    """
    device = next(model.parameters()).device
    optimizer = make_optimizer(model.parameters(), hp)
    params = dict(model.named_parameters())
    masked = [(params[n], m.to(device, params[n].dtype)) for n, m in mask.items() if not bool(m.all())]
    masked_params, mask_values = [p for p, _ in masked], [m for _, m in masked]
    stream = BatchStream(data.train_x, data.train_y, hp.batch_size, derive_seed(seed, "data order"), augment)
    torch.manual_seed(derive_seed(seed, "dropout"))  # dropout draws from the default generator

    curve, best_state, start, snapshot, elapsed = Curve(), None, start_iteration, None, 0.0
    state = load_tensors(checkpoint) if checkpoint else None
    if state is not None:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        torch.set_rng_state(state["rng"])
        curve, best_state, start = Curve(**state["curve"]), state["best_state"], state["iteration"]
        snapshot, elapsed = state.get("snapshot"), state.get("elapsed", 0.0)
    check_mask_invariant(model, mask, "at the start of training")

    def record(iteration: int) -> None:
        nonlocal best_state
        val_loss, val_acc = evaluate(model, data.val_x, data.val_y, eval_dtype)
        _, test_acc = evaluate(model, data.test_x, data.test_y, eval_dtype)
        curve.add(iteration, val_loss, val_acc, test_acc)
        if curve.best_index() == len(curve.val_loss) - 1:
            best_state = copy.deepcopy(model.state_dict())

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
                    "iteration": it, "model": model.state_dict(), "optimizer": optimizer.state_dict(),
                    "rng": torch.get_rng_state(), "curve": curve.to_dict(), "best_state": best_state,
                    "snapshot": snapshot, "elapsed": elapsed + time.perf_counter() - began})
        if snapshot_at is not None and it == snapshot_at:
            snapshot = copy.deepcopy(model.state_dict())
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

    final_state = copy.deepcopy(model.state_dict())
    _, train_acc_final = evaluate(model, data.train_x, data.train_y, eval_dtype)
    model.load_state_dict(best_state)
    _, train_acc_best = evaluate(model, data.train_x, data.train_y, eval_dtype)
    model.load_state_dict(final_state)
    summary = summarize(curve, train_acc_best, train_acc_final)
    summary["train_seconds"] = elapsed + time.perf_counter() - began
    return TrainResult(summary, curve, final_state, snapshot)
