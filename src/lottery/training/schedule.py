"""The training schedule shared by both engines: K >= 1 masked networks stepped in lockstep.

One place runs the iterations: it evaluates what the run's :class:`~.evaluation.EvaluationPlan` asks
for, writes checkpoints, when to take the θk snapshot, the learning rate of every step, which state is the
early-stop one, the train-accuracy passes that end a run, the summary and the checkpoint format.
An :class:`Engine` supplies only what differs between the engines: how its networks take a step,
how they are evaluated, and their state in and out (:mod:`loop` for any ``nn.Module``, one network;
:mod:`batched` for K LeNets stacked into one computation).

A checkpoint holds one network: ``iteration``, ``model``, ``optimizer`` (in the one-network
optimizer's format), ``curve``, ``best_state``, ``snapshot``, ``elapsed``, ``precision``, plus what
its engine adds (``rng`` when the model draws from the global generator, ``scaler`` for fp16). Either
engine resumes a checkpoint written by the other.
"""

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, cast

import torch
from tqdm.auto import tqdm

from ..data import DataSplits
from ..errors import LotteryError
from ..hparams import TrainingHparams
from ..storage import save_tensors
from .evaluation import EvaluationPlan
from .metrics import Curve, summarize
from .optim import learning_rate, schedule_is_constant

TRAIN_ACCURACY_EXAMPLES = 10_000  # default size of the subset train accuracy is measured on
TRAIN_SUBSET_SEED = 0x7A1B  # one fixed subset for every network, trial and level: their figures compare


@dataclass(frozen=True)
class Schedule:
    """How a run goes through its iterations, besides its hyperparameters (which say what it computes).

    ``checkpoint_every``: iterations between checkpoints (of runs given a checkpoint path).
    ``start_iteration``: the first step's iteration number (k when rewound to θk: the data order and
    learning-rate schedule continue from there). ``snapshot_at``: also return the weights at that
    iteration (θk for rewinding). ``test_curve``: evaluate the test set at every evaluation, not only
    where a published number reads it (:mod:`.evaluation`); results are identical either way.
    ``train_accuracy_examples``: train accuracy is measured on a fixed, seeded subset of this many
    training examples (None: all of them). ``debug``: check after every step that pruned weights stay
    zero. ``progress``/``description``: the progress bar and its label.
    """

    checkpoint_every: int = 1000
    start_iteration: int = 0
    snapshot_at: int | None = None
    test_curve: bool = False
    train_accuracy_examples: int | None = TRAIN_ACCURACY_EXAMPLES
    debug: bool = False
    progress: bool = True
    description: str = "train"

    def evaluation_plan(self, hp: TrainingHparams) -> EvaluationPlan:
        return EvaluationPlan(hp.eval_every, hp.iterations, self.test_curve)


DEFAULT_SCHEDULE = Schedule()


@dataclass
class TrainResult:
    summary: dict  # early stop iteration, accuracies, ...
    curve: Curve
    final_state: dict  # state_dict after the last iteration
    snapshot: dict | None = None  # state_dict at ``snapshot_at`` (θk for rewinding)


class Engine(Protocol):
    """K networks that train in lockstep (K = 1 for the one-network engine)."""

    k: int
    optimizer: torch.optim.Optimizer  # the driver sets its learning rate before every step

    def step(self, iteration: int) -> None:
        """One optimizer step of every network on its own batch of ``iteration``, gradients of pruned
        weights masked."""

    def evaluate(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-example cross-entropy (K, N) and correctness (K, N) of every network on (x, y)."""

    def state_of(self, i: int) -> dict:
        """Network ``i``'s state dict (copies, standard memory layout)."""

    def load_state(self, i: int, state: dict) -> None:
        """Make network ``i`` hold ``state``."""

    def mask_violation(self) -> str | None:
        """Where pruned weights are nonzero (None: nowhere)."""

    def checkpoint_payload(self, i: int) -> dict:
        """Network ``i``'s engine state for its checkpoint: ``optimizer`` and any extras."""

    def resume(self, payloads: list[dict]) -> None:
        """Load the engine state of every network from its checkpoint."""


def train_subset(data: DataSplits, examples: int | None) -> tuple[torch.Tensor, torch.Tensor]:
    """The training examples train accuracy is measured on: a fixed, seeded subset of ``examples``
    (sorted, so it is read in memory order), or all of them (``examples`` None or >= the set)."""
    n = len(data.train_y)
    if examples is None or examples >= n:
        return data.train_x, data.train_y
    if examples < 1:
        raise LotteryError(f"train accuracy needs at least one example, got {examples}")
    chosen = torch.randperm(n, generator=torch.Generator().manual_seed(TRAIN_SUBSET_SEED))[:examples].sort().values
    chosen = chosen.to(data.train_y.device)
    return data.train_x[chosen], data.train_y[chosen]


def _mean(values: torch.Tensor) -> list[float]:
    return (values.sum(1, dtype=torch.float64) / values.shape[1]).tolist()


def run_schedule(
    engine: Engine,
    data: DataSplits,
    hp: TrainingHparams,
    schedule: Schedule,
    *,
    states: list[dict | None],
    checkpoints: list[Path | None],
) -> list[TrainResult]:
    """Train the engine's networks to ``hp.iterations``; ``states``: their checkpoints (all None, or
    all from the same iteration), ``checkpoints``: where to write them (None: nowhere)."""
    k = engine.k
    curves = [Curve() for _ in range(k)]
    best: list[dict | None] = [None] * k
    snapshots: list[dict | None] = [None] * k
    elapsed = [0.0] * k
    plan = schedule.evaluation_plan(hp)
    start = schedule.start_iteration
    if states[0] is not None:
        resumed = cast(list[dict], states)  # all None or all checkpoints (see above)
        for i, state in enumerate(resumed):
            saved = state.get("precision", "fp32")
            if saved != hp.precision:
                raise LotteryError(
                    f"checkpoint {checkpoints[i]} was written by a {saved} run; this run trains "
                    f"in {hp.precision}. Run with the same precision, or delete the checkpoint"
                )
            engine.load_state(i, state["model"])
            curves[i], best[i] = Curve.from_dict(state["curve"]), state["best_state"]
            snapshots[i], elapsed[i] = state.get("snapshot"), state.get("elapsed", 0.0)
        engine.resume(resumed)
        start = resumed[0]["iteration"]

    def check_masks(where: str) -> None:
        violation = engine.mask_violation()
        if violation:
            raise LotteryError(f"invariant violated {where}: pruned weights are nonzero in {violation}")

    def record(iteration: int) -> None:
        val_loss, val_correct = engine.evaluate(data.val_x, data.val_y)
        for i, (loss, acc) in enumerate(zip(_mean(val_loss), _mean(val_correct))):
            curves[i].add(iteration, val_loss=loss, val_acc=acc)
            if curves[i].is_new_minimum():
                best[i] = engine.state_of(i)
        if plan.tests(iteration):
            test_acc = _mean(engine.evaluate(data.test_x, data.test_y)[1])
            for i in range(k):
                curves[i].add(iteration, test_acc=test_acc[i])

    def save_checkpoints(iteration: int, seconds: float) -> None:
        for i, path in enumerate(checkpoints):
            if path is not None:
                save_tensors(
                    path,
                    {
                        "iteration": iteration,
                        "model": engine.state_of(i),
                        **engine.checkpoint_payload(i),
                        "curve": curves[i].to_dict(),
                        "best_state": best[i],
                        "snapshot": snapshots[i],
                        "elapsed": elapsed[i] + seconds,
                        "precision": hp.precision,
                    },
                )

    check_masks("at the start of training")
    checkpoint_every, snapshot_at = schedule.checkpoint_every, schedule.snapshot_at
    checkpointing = any(p is not None for p in checkpoints)
    lr_constant = schedule_is_constant(hp)
    began = time.perf_counter()
    bar = tqdm(
        total=hp.iterations,
        initial=start,
        desc=schedule.description,
        disable=not schedule.progress,
        leave=False,
        unit="it",
        dynamic_ncols=True,
    )
    for it in range(start, hp.iterations):
        if plan.evaluates(it) and (not curves[0].iterations or curves[0].iterations[-1] != it):
            record(it)
            bar.set_postfix(val_loss=f"{min(c.series['val_loss'].values[-1] for c in curves):.4f}")
            if checkpointing and it > start and it % checkpoint_every < hp.eval_every:
                save_checkpoints(it, time.perf_counter() - began)
        if snapshot_at is not None and it == snapshot_at:
            snapshots = [engine.state_of(i) for i in range(k)]
        if not lr_constant:
            for group in engine.optimizer.param_groups:
                group["lr"] = learning_rate(hp, it)
        engine.step(it)
        if schedule.debug:
            check_masks(f"after the optimizer step at iteration {it}")
        bar.update(1)
    bar.close()
    if not curves[0].iterations or curves[0].iterations[-1] != hp.iterations:
        record(hp.iterations)
    check_masks("at the end of training")
    seconds = time.perf_counter() - began

    # Train accuracy of the final and of the early-stop weights, and the test accuracy of the early-stop weights
    # where it was not measured when they were reached; the networks end holding the final weights.
    train_x, train_y = train_subset(data, schedule.train_accuracy_examples)
    finals = [engine.state_of(i) for i in range(k)]
    acc_final = _mean(engine.evaluate(train_x, train_y)[1])
    for i, early in enumerate(best):
        assert early is not None  # record() ran at least once, at the end of training at the latest
        engine.load_state(i, early)
    acc_best = _mean(engine.evaluate(train_x, train_y)[1])
    untested = [i for i in range(k) if curves[i].series["test_acc"].at(curves[i].early_stop_iteration) is None]
    if untested:
        test_best = _mean(engine.evaluate(data.test_x, data.test_y)[1])
        for i in untested:
            curves[i].add(curves[i].early_stop_iteration, test_acc=test_best[i])
    for i in range(k):
        engine.load_state(i, finals[i])
    results = []
    for i in range(k):
        summary = summarize(curves[i], acc_best[i], acc_final[i])
        summary.update(
            train_accuracy_examples=len(train_y),
            precision=hp.precision,
            train_seconds=elapsed[i] + seconds,
            trained_together=k,
        )
        results.append(TrainResult(summary, curves[i], finals[i], snapshots[i]))
    return results
