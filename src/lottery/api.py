"""A small Python API: find a lottery ticket in any ``torch.nn.Module``.

    search = TicketSearch(model, rate=0.2)           # remembers θ0 = the model's current weights
    for level in range(5):
        search.train_level(data=(train, val))        # or train_level(train_fn=my_training)
        search.prune()                               # magnitude-prune the trained weights
        search.reset()                               # survivors back to θ0 (θk when rewinding)
    search.masks, search.density

or in one call: ``ticket = find_ticket(model, (x_train, y_train), (x_val, y_val), levels=5)``.

Masks are dicts ``parameter name -> bool tensor`` (True = kept), as everywhere in lottery; pruning
reuses the exact-count layer-wise and global magnitude pruning of :mod:`lottery.pruning`.
"""

import copy
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace

import torch
from torch import nn
from torch.nn.utils import prune

from .data import DataSplits
from .errors import LotteryError, UsageError
from .hparams import TrainingHparams
from .pruning import (
    GlobalRanking,
    LayerWise,
    Mask,
    PruningStrategy,
    apply_mask,
    density,
    full_mask,
    layer_density,
    pruned_weights_nonzero,
)
from .training import Schedule, train

Prunable = None | list[str] | tuple[str, ...] | Callable[[str, nn.Parameter], bool]
TrainFn = Callable[[nn.Module, Callable[[], None]], object]

_PRUNABLE_LAYERS = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)


def default_prunable(model: nn.Module) -> list[str]:
    """The weights (not biases) of every Linear and Conv layer, as in the paper."""
    return [
        f"{name}.weight" if name else "weight"
        for name, module in model.named_modules()
        if isinstance(module, _PRUNABLE_LAYERS)
    ]


def select_prunable(model: nn.Module, prunable: Prunable) -> list[str]:
    params = dict(model.named_parameters())
    if prunable is None:
        names = default_prunable(model)
    elif callable(prunable):
        names = [name for name, p in params.items() if prunable(name, p)]
    else:
        names = list(prunable)
        unknown = [n for n in names if n not in params]
        if unknown:
            raise UsageError(f"prunable names unknown parameters {unknown}; the model has {sorted(params)}")
    if not names:
        raise UsageError("no prunable parameters: pass prunable= names (or a function of (name, parameter))")
    return names


def adopt_torch_pruning(model: nn.Module) -> Mask:
    """The masks that ``torch.nn.utils.prune`` put on ``model``, taken over: each such weight becomes a
    plain parameter again (``weight_orig`` times its mask, the hook removed) and its mask is returned
    (name -> bool tensor), to start the search from."""
    masks = {}
    for module_name, module in model.named_modules():
        for hook in list(module._forward_pre_hooks.values()):
            if isinstance(hook, prune.BasePruningMethod):
                name = hook._tensor_name
                mask = getattr(module, f"{name}_mask").detach().bool().cpu()
                prune.remove(module, name)
                masks[f"{module_name}.{name}" if module_name else name] = mask
    return masks


def as_splits(train_data, val_data, test_data=None) -> DataSplits:
    """DataSplits from (x, y) tensor pairs. Without test data, the validation data stands in for it
    (the reported test accuracy is then a validation accuracy)."""

    def pair(d, what: str) -> tuple[torch.Tensor, torch.Tensor]:
        if not (isinstance(d, (tuple, list)) and len(d) == 2 and all(torch.is_tensor(t) for t in d)):
            raise UsageError(f"{what} must be an (inputs, labels) pair of tensors")
        x, y = d
        if len(x) != len(y):
            raise UsageError(f"{what}: {len(x)} inputs but {len(y)} labels")
        return x, y.long()

    train_xy, val_xy = pair(train_data, "train_data"), pair(val_data, "val_data")
    test_xy = pair(test_data, "test_data") if test_data is not None else val_xy
    classes = 1 + int(max(int(t[1].max()) for t in (train_xy, val_xy, test_xy)))
    return DataSplits(*train_xy, *val_xy, *test_xy, classes)


class TicketSearch:
    """Iterative magnitude pruning of a user's model, one step at a time.

    ``prunable``: None (every Linear/Conv weight), a list of parameter names, or a function
    ``(name, parameter) -> bool``. Rates are fractions of the *remaining* weights pruned per round:
    ``rate`` for every prunable layer, ``rates={name: rate}`` to override single layers, or
    ``global_rate`` to rank all prunable weights together instead. ``rewind_iteration=k`` resets
    survivors to their weights at iteration k of the first (dense) training instead of θ0.
    A model pruned with ``torch.nn.utils.prune`` is taken over: its masks start the search (level 0
    trains under them) and its weights become plain parameters again (see :func:`adopt_torch_pruning`).
    """

    def __init__(
        self,
        model: nn.Module,
        prunable: Prunable = None,
        *,
        rate: float = 0.2,
        rates: dict[str, float] | None = None,
        global_rate: float | None = None,
        rewind_iteration: int = 0,
    ):
        self.model = model
        pruned_before = adopt_torch_pruning(model)
        self.names = select_prunable(model, prunable)
        unmasked = sorted(set(pruned_before) - set(self.names))
        if unmasked:
            raise UsageError(
                f"{unmasked} carry torch.nn.utils.prune masks but are not prunable here; "
                "add them to prunable= (their masks then start the search)"
            )
        if global_rate is not None and rates:
            raise UsageError("pass either rates= (layer-wise) or global_rate= (global), not both")
        unknown = sorted(set(rates or {}) - set(self.names))
        if unknown:
            raise UsageError(f"rates= names layers that are not prunable: {unknown}; prunable: {self.names}")
        # The strategies of lottery.pruning, set up for these layers (each checks its rates).
        self.strategy: PruningStrategy = (
            LayerWise({name: (rates or {}).get(name, rate) for name in self.names})
            if global_rate is None
            else GlobalRanking(global_rate, self.names)
        )
        if rewind_iteration < 0:
            raise UsageError(f"rewind_iteration must not be negative, got {rewind_iteration}")
        self.rewind_iteration = rewind_iteration
        self.masks: Mask = {n: pruned_before.get(n, m.cpu()) for n, m in full_mask(model, self.names).items()}
        self.initial_state = _copy_state(model)  # θ0
        self.rewind_state: dict | None = None if rewind_iteration else self.initial_state
        self.level = 0
        self.history: list[dict] = []

    # -- masks ---------------------------------------------------------------------------------
    @property
    def density(self) -> float:
        """Fraction of prunable weights that remain (Pm)."""
        return density(self.masks)

    def apply_mask(self) -> None:
        """Zero the pruned weights of the model in place."""
        apply_mask(self.model, self.masks)

    def prune(self, weights: dict[str, torch.Tensor] | None = None) -> Mask:
        """One round of magnitude pruning of ``weights`` (default: the model's current, trained weights)."""
        weights = weights if weights is not None else dict(self.model.named_parameters())
        missing = [n for n in self.names if n not in weights]
        if missing:
            raise UsageError(f"weights lack prunable parameters {missing}")
        self.masks = self.strategy.prune(weights, self.masks)
        self.level += 1
        return self.masks

    def set_rewind_point(self) -> None:
        """Make the model's current weights the reset point (θk). Call it at iteration k of your
        own first training; the built-in training does it by itself when ``rewind_iteration`` is set."""
        self.rewind_state = _copy_state(self.model)

    def reset(self) -> None:
        """Survivors back to θ0 (or θk), pruned weights to zero, buffers (batch norm) as they were then."""
        if self.rewind_state is None:
            raise LotteryError(
                f"no weights at the rewind iteration {self.rewind_iteration} yet: train the dense "
                "network first (or call set_rewind_point() in your own training)"
            )
        self.model.load_state_dict(self.rewind_state)
        self.apply_mask()

    # -- training ------------------------------------------------------------------------------
    @contextmanager
    def masked_training(self) -> Iterator[Callable[[], None]]:
        """While inside, gradients of pruned weights are zeroed as they are computed (so neither the
        gradient nor optimizer state or weight decay built from it can move them); yields ``apply_mask``
        to call after each optimizer step as a second guard. On the way out, checks that pruned weights
        are still exactly zero."""
        params = dict(self.model.named_parameters())
        handles = []
        for name, keep in self.masks.items():
            if not bool(keep.all()):
                factor = keep.to(params[name].device, params[name].dtype)
                handles.append(params[name].register_hook(lambda grad, factor=factor: grad * factor))
        self.apply_mask()
        try:
            yield self.apply_mask
        finally:
            for handle in handles:
                handle.remove()
        revived = pruned_weights_nonzero(self.model, self.masks)
        if revived:
            raise LotteryError(
                f"training revived pruned weights in {', '.join(revived)}; call apply_mask() after "
                "each optimizer step (or use a fresh optimizer per level)"
            )

    def train_level(
        self,
        train_fn: TrainFn | None = None,
        data=None,
        *,
        hparams: TrainingHparams | None = None,
        seed: int = 0,
        progress: bool = False,
    ) -> dict:
        """Train the model under the current masks and record the level.

        ``train_fn(model, apply_mask)``: your own training; gradients of pruned weights are already
        zeroed, call ``apply_mask()`` after each optimizer step; whatever it returns is recorded.
        Otherwise the built-in loop trains with cross-entropy on ``data`` (a DataSplits or
        ``(train, val)`` / ``(train, val, test)`` tuples of (x, y) pairs) with ``hparams``, keeping the
        weights of the last iteration, and records accuracies and the early-stop iteration.
        """
        if train_fn is None and data is None:
            raise UsageError("train_level needs data= for the built-in training, or your own train_fn=")
        record = {"level": self.level, "density": self.density, "layer_density": layer_density(self.masks)}
        if train_fn is not None:
            with self.masked_training() as masked_apply:
                record["result"] = train_fn(self.model, masked_apply)
            if self.rewind_state is None and self.rewind_iteration:
                raise LotteryError("rewind_iteration is set but your train_fn never called set_rewind_point()")
        else:
            record.update(self._builtin_training(data, hparams or TrainingHparams(), seed, progress))
        self.history.append(record)
        return record

    def _builtin_training(self, data, hp: TrainingHparams, seed: int, progress: bool) -> dict:
        splits = data if isinstance(data, DataSplits) else as_splits(*data)
        k = self.rewind_iteration
        if k and not k < hp.iterations:
            raise UsageError(f"rewind_iteration {k} must be below the {hp.iterations} training iterations")
        device = next(self.model.parameters()).device
        first = self.rewind_state is None  # the dense run that records θk
        self.apply_mask()
        result = train(
            self.model,
            self.masks,
            splits.to(device),
            hp,
            seed,
            Schedule(
                start_iteration=0 if first else k,
                snapshot_at=k if first else None,
                test_curve=True,  # the record's curve is the whole learning curve
                progress=progress,
                description=f"level {self.level}",
            ),
        )
        if first:
            self.rewind_state = result.snapshot
        return {"summary": result.summary, "curve": result.curve.to_dict()}


@dataclass
class Ticket:
    """A winning ticket: the masks and the weights its survivors start from (θ0, or θk when rewinding)."""

    masks: Mask
    state_dict: dict  # the reset weights, pruned entries zeroed
    history: list[dict] = field(default_factory=list)  # one record per trained level

    @property
    def density(self) -> float:
        return density(self.masks)


def find_ticket(
    model: nn.Module,
    train_data,
    val_data,
    *,
    test_data=None,
    levels: int = 5,
    prunable: Prunable = None,
    rate: float = 0.2,
    rates: dict[str, float] | None = None,
    global_rate: float | None = None,
    rewind_iteration: int = 0,
    train_fn: TrainFn | None = None,
    hparams: TrainingHparams | None = None,
    seed: int = 0,
    progress: bool = False,
    **training,
) -> Ticket:
    """Train, prune, reset ``levels`` times, train the result once more and return it as the ticket.

    ``model`` must hold its initial weights θ0; it ends at the ticket's reset weights, masked.
    ``ticket.history`` has one record per trained level 0..levels (level 0: dense; the last one is the
    ticket's own training). Extra keyword arguments set fields of the built-in training's
    hyperparameters (``iterations=2000``, ``lr=1e-3``, ``optimizer="sgd"``, ...)."""
    if levels < 1:
        raise UsageError(f"levels must be at least 1, got {levels}")
    try:
        hp = replace(hparams or TrainingHparams(), **training)
    except TypeError as e:
        raise UsageError(f"unknown training setting: {e}") from None
    data = (train_data, val_data) if test_data is None else (train_data, val_data, test_data)
    search = TicketSearch(
        model, prunable, rate=rate, rates=rates, global_rate=global_rate, rewind_iteration=rewind_iteration
    )
    for level in range(levels + 1):
        search.train_level(train_fn, None if train_fn else data, hparams=hp, seed=seed, progress=progress)
        if level < levels:
            search.prune()
        search.reset()
    return Ticket(copy.deepcopy(search.masks), _copy_state(model), search.history)


def _copy_state(model: nn.Module) -> dict:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}
