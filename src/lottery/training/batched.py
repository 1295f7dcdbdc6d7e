"""Training K masked networks of one architecture at once, with the semantics of :func:`loop.train`.

Each network keeps everything that makes its run its own: its weights and mask, its seed (hence
its data order, through the same :class:`BatchStream`), its optimizer state, its learning curve,
early stop, snapshot and checkpoint file. What is shared is the computation: one stacked training
step for all K (see :mod:`stacked_fc`) and one evaluation pass of all K networks over the
validation and test images together. The results equal K separate ``loop.train`` runs up to float
rounding (tests/test_batched.py checks it), and checkpoints are written in ``loop.train``'s format,
one file per network, so a run can be resumed either way.

Models the stacked engine does not support (anything but ``lenet.FullyConnected`` without
dropout) and runs with data augmentation are trained one after another with ``loop.train``.
"""

import time
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from ..data import BatchStream, DataSplits
from ..errors import LotteryError
from ..hparams import TrainingHparams
from ..pruning import Mask
from ..seeds import derive_seed
from ..storage import load_tensors, save_tensors
from .loop import TrainResult, train
from .metrics import Curve, summarize
from .optim import learning_rate, make_optimizer, schedule_is_constant
from .stacked_fc import StackedFC, stackable_fc

EVAL_ROWS = 4096  # rows of (images x networks) per evaluation chunk: keeps activations in cache


@dataclass
class Job:
    """One network to train: ``model`` already initialized and masked, like ``loop.train``'s arguments."""

    model: nn.Module
    mask: Mask
    seed: int
    checkpoint: Path | None = None


def can_batch(models: list[nn.Module], augment=None) -> bool:
    """Whether :func:`train_many` trains these models together (otherwise one after another)."""
    return augment is None and stackable_fc(models)


def train_many(jobs: list[Job], data: DataSplits, hp: TrainingHparams, *, checkpoint_every: int = 1000,
               augment=None, start_iteration: int = 0, snapshot_at: int | None = None, debug: bool = False,
               progress: bool = True, description: str = "train", eval_dtype: torch.dtype = torch.float32,
               sparse: float | None = None) -> list[TrainResult]:
    """``[loop.train(job.model, job.mask, data, hp, job.seed, checkpoint=job.checkpoint, ...) for job in jobs]``,
    computed together. Every model ends holding its final weights, as after ``loop.train``.

    ``eval_dtype``: precision of the evaluation matmuls (float32: exact; bfloat16: faster on CPUs
    with AMX/AVX-512-BF16 and on GPUs, accuracies within 0.2 percentage points; for models trained
    one by one, the model runs under autocast).
    ``sparse``: train layers whose networks all keep at most this fraction of weights with sparse
    kernels (None: dense kernels only).
    """
    if not jobs:
        return []
    if not can_batch([j.model for j in jobs], augment):
        return [train(j.model, j.mask, data, hp, j.seed, checkpoint=j.checkpoint, checkpoint_every=checkpoint_every,
                      augment=augment, start_iteration=start_iteration, snapshot_at=snapshot_at, debug=debug,
                      progress=progress, description=description, eval_dtype=eval_dtype) for j in jobs]
    states = [load_tensors(j.checkpoint) if j.checkpoint else None for j in jobs]
    # Networks resumed from different iterations (a crash between two checkpoint writes) train apart.
    groups: dict[int | None, list[int]] = {}
    for i, state in enumerate(states):
        groups.setdefault(None if state is None else state["iteration"], []).append(i)
    results: list[TrainResult | None] = [None] * len(jobs)
    for members in groups.values():
        run = _StackedRun([jobs[i] for i in members], [states[i] for i in members], data, hp,
                          checkpoint_every=checkpoint_every, start_iteration=start_iteration,
                          snapshot_at=snapshot_at, debug=debug, eval_dtype=eval_dtype, sparse=sparse)
        for i, result in zip(members, run.train(progress, description)):
            results[i] = result
    return results


def evaluate_stacked(engine: StackedFC, x: torch.Tensor, y: torch.Tensor,
                     dtype: torch.dtype = torch.float32) -> tuple[torch.Tensor, torch.Tensor]:
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

    return {"state": {i: {key: part(i, v) for key, v in s.items()} for i, s in stacked["state"].items()},
            "param_groups": [dict(g) for g in stacked["param_groups"]]}


def stack_optimizer_states(states: list[dict], pack=_same) -> dict:
    """Inverse of :func:`split_optimizer_state`: K optimizers' state dicts as one stacked state dict."""
    def join(slot, values):
        first = values[0]
        if torch.is_tensor(first) and first.dim() > 0:
            return pack(slot, torch.stack(values))
        return first  # step counts are equal: the networks took the same number of steps

    first = states[0]
    return {"state": {i: {key: join(i, [s["state"][i][key] for s in states]) for key in first["state"][i]}
                      for i in first["state"]},
            "param_groups": first["param_groups"]}


def fresh_rng_state(seed: int) -> torch.Tensor:
    """The global RNG state ``loop.train`` saves when no dropout has drawn from it yet."""
    return torch.Generator().manual_seed(derive_seed(seed, "dropout")).get_state()


class _StackedRun:
    """One group of networks trained in lockstep from the same iteration."""

    def __init__(self, jobs: list[Job], states: list[dict | None], data: DataSplits, hp: TrainingHparams, *,
                 checkpoint_every: int, start_iteration: int, snapshot_at: int | None, debug: bool,
                 eval_dtype: torch.dtype, sparse: float | None):
        self.jobs, self.data, self.hp = jobs, data, hp
        self.checkpoint_every, self.snapshot_at, self.debug, self.eval_dtype = (
            checkpoint_every, snapshot_at, debug, eval_dtype)
        self.engine = StackedFC([j.model for j in jobs], [j.mask for j in jobs], sparse=sparse)
        names = [n for n, _ in jobs[0].model.named_parameters()]
        if self.engine.param_names != names:
            raise LotteryError(f"internal error: stacked parameters {self.engine.param_names} != model's {names}")
        self.optimizer = make_optimizer(self.engine.params, hp)
        k = len(jobs)
        self.curves = [Curve() for _ in range(k)]
        self.best: list[dict | None] = [None] * k
        self.snapshots: list[dict | None] = [None] * k
        self.elapsed = [0.0] * k
        self.start = start_iteration
        if states[0] is not None:
            for i, state in enumerate(states):
                self.engine.load_state(i, state["model"])
                self.curves[i], self.best[i] = Curve(**state["curve"]), state["best_state"]
                self.snapshots[i], self.elapsed[i] = state.get("snapshot"), state.get("elapsed", 0.0)
            self.optimizer.load_state_dict(stack_optimizer_states([s["optimizer"] for s in states], self.engine.pack))
            self.start = states[0]["iteration"]
        self._check_masks("at the start of training")
        # Validation and test images evaluated in one pass (cast once when evaluating in low precision).
        self.n_val = len(data.val_y)
        self.eval_x = torch.cat([data.val_x, data.test_x]).to(eval_dtype)
        self.eval_y = torch.cat([data.val_y, data.test_y])

    def _check_masks(self, where: str) -> None:
        bad = self.engine.pruned_nonzero()
        if bad:
            raise LotteryError(f"invariant violated {where}: pruned weights are nonzero in network(s) {bad} "
                               f"of a batch of {self.engine.k}")

    def _record(self, iteration: int) -> None:
        loss, correct = evaluate_stacked(self.engine, self.eval_x, self.eval_y, self.eval_dtype)
        n_val, n_test = self.n_val, len(self.eval_y) - self.n_val
        val_loss = loss[:, :n_val].sum(1, dtype=torch.float64) / n_val
        val_acc = correct[:, :n_val].sum(1, dtype=torch.float64) / n_val
        test_acc = correct[:, n_val:].sum(1, dtype=torch.float64) / n_test
        for i, (vl, va, ta) in enumerate(zip(val_loss.tolist(), val_acc.tolist(), test_acc.tolist())):
            curve = self.curves[i]
            curve.add(iteration, vl, va, ta)
            if curve.best_index() == len(curve.val_loss) - 1:
                self.best[i] = self.engine.state_of(i)

    def _save_checkpoints(self, iteration: int, seconds: float) -> None:
        stacked = self.optimizer.state_dict()
        for i, job in enumerate(self.jobs):
            if job.checkpoint is not None:
                save_tensors(job.checkpoint, {
                    "iteration": iteration, "model": self.engine.state_of(i),
                    "optimizer": split_optimizer_state(stacked, i, self.engine.unpack),
                    "rng": fresh_rng_state(job.seed),
                    "curve": self.curves[i].to_dict(), "best_state": self.best[i], "snapshot": self.snapshots[i],
                    "elapsed": self.elapsed[i] + seconds})

    def _train_accuracy(self) -> list[float]:
        x = self.data.train_x.to(self.eval_dtype)
        _, correct = evaluate_stacked(self.engine, x, self.data.train_y, self.eval_dtype)
        return correct.sum(1, dtype=torch.float64).div(len(self.data.train_y)).tolist()

    def train(self, progress: bool, description: str) -> list[TrainResult]:
        hp, engine, data = self.hp, self.engine, self.data
        k, batch = engine.k, hp.batch_size
        device = data.train_x.device
        # Index streams: BatchStream over 0..n-1 yields the very batches (as row indices) that each
        # network's own BatchStream would, without K permuted copies of the training set.
        rows = torch.arange(len(data.train_y), device=device)
        streams = [BatchStream(rows, rows, batch, derive_seed(j.seed, "data order")) for j in self.jobs]
        index = torch.empty(k, batch, dtype=torch.long, device=device)
        train_x = data.train_x.reshape(len(data.train_y), -1)
        x = torch.empty(k * batch, train_x.shape[1], device=device)
        y = torch.empty(k * batch, dtype=data.train_y.dtype, device=device)
        lr_constant = schedule_is_constant(hp)
        checkpointing = any(j.checkpoint is not None for j in self.jobs)
        began = time.perf_counter()
        bar = tqdm(total=hp.iterations, initial=self.start, desc=description, disable=not progress, leave=False,
                   unit="it", dynamic_ncols=True)
        for it in range(self.start, hp.iterations):
            if it % hp.eval_every == 0 and (not self.curves[0].iterations or self.curves[0].iterations[-1] != it):
                self._record(it)
                bar.set_postfix(val_loss=f"{min(c.val_loss[-1] for c in self.curves):.4f}",
                                test_acc=f"{max(c.test_acc[-1] for c in self.curves):.4f}")
                if checkpointing and it > self.start and it % self.checkpoint_every < hp.eval_every:
                    self._save_checkpoints(it, time.perf_counter() - began)
            if self.snapshot_at is not None and it == self.snapshot_at:
                self.snapshots = [engine.state_of(i) for i in range(k)]
            if not lr_constant:
                for group in self.optimizer.param_groups:
                    group["lr"] = learning_rate(hp, it)
            torch.stack([s.batch(it)[0] for s in streams], out=index)
            torch.index_select(train_x, 0, index.view(-1), out=x)
            torch.index_select(data.train_y, 0, index.view(-1), out=y)
            engine.compute_grads(x.view(k, batch, -1), y.view(k, batch))
            self.optimizer.step()
            engine.after_step()
            if self.debug:
                self._check_masks(f"after the optimizer step at iteration {it}")
            bar.update(1)
        bar.close()
        if not self.curves[0].iterations or self.curves[0].iterations[-1] != hp.iterations:
            self._record(hp.iterations)
        self._check_masks("at the end of training")
        seconds = time.perf_counter() - began

        finals = [engine.state_of(i) for i in range(k)]
        train_acc_final = self._train_accuracy()
        for i in range(k):
            engine.load_state(i, self.best[i])
        train_acc_best = self._train_accuracy()
        results = []
        for i, job in enumerate(self.jobs):
            job.model.load_state_dict(finals[i])
            summary = summarize(self.curves[i], train_acc_best[i], train_acc_final[i])
            summary["train_seconds"] = self.elapsed[i] + seconds
            summary["trained_together"] = k
            results.append(TrainResult(summary, self.curves[i], finals[i], self.snapshots[i]))
        return results
