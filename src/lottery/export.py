"""Tickets as plain files the rest of PyTorch can use.

A ticket file is ``torch.save`` of a plain dict::

    {"format": "lottery-ticket", "version": 1,
     "state_dict": {name: tensor},   # the weights the survivors start from, pruned entries zero
     "masks": {name: bool tensor},   # True = kept, one per pruned parameter
     "meta": {...}}                  # JSON-like notes: where it came from, its density, ...

It loads with ``torch.load(path, weights_only=True)`` and needs nothing from lottery. To use a ticket,
:func:`apply_to_model` loads the weights and attaches each mask with
``torch.nn.utils.prune.custom_from_mask`` (the parameter becomes ``<name>_orig`` times the buffer
``<name>_mask``), so pruned weights stay zero through any further training; :func:`make_permanent`
folds the masks back into plain parameters.
"""

from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn
from torch.nn.utils import prune

from .errors import LotteryError
from .experiments.folder import ExperimentFolder
from .experiments.layout import TICKET
from .pruning import Mask, density
from .storage import load_tensors, save_tensors

FORMAT, VERSION = "lottery-ticket", 1
WEIGHTS = ("reset", "final")  # what an exported experiment ticket holds: its start weights or trained ones


@dataclass
class SavedTicket:
    state_dict: dict[str, torch.Tensor]
    masks: Mask
    meta: dict = field(default_factory=dict)

    @property
    def density(self) -> float:
        return density(self.masks)


def _check_masks(state: dict, masks: Mask) -> None:
    for name, keep in masks.items():
        if name not in state:
            raise LotteryError(f"mask {name!r} names no tensor of the state dict")
        if keep.dtype != torch.bool or keep.shape != state[name].shape:
            raise LotteryError(
                f"mask {name!r} must be a bool tensor of shape {tuple(state[name].shape)}, "
                f"got {keep.dtype} {tuple(keep.shape)}"
            )


def save_ticket(path: Path, model_or_state: nn.Module | dict, masks: Mask, *, meta: dict | None = None) -> Path:
    """Write a ticket: the weights (pruned entries zeroed) and masks as plain CPU tensors."""
    state = model_or_state.state_dict() if isinstance(model_or_state, nn.Module) else model_or_state
    state = {k: v.detach().cpu().clone() for k, v in state.items()}
    masks = {k: m.detach().cpu() for k, m in masks.items()}
    _check_masks(state, masks)
    for name, keep in masks.items():
        state[name][~keep] = 0
    save_tensors(
        Path(path),
        {
            "format": FORMAT,
            "version": VERSION,
            "state_dict": state,
            "masks": masks,
            "meta": {"density": density(masks), **(meta or {})},
        },
    )
    return Path(path)


def load_ticket(path: Path) -> SavedTicket:
    if not Path(path).is_file():
        raise LotteryError(f"no ticket file at {path}")
    obj = load_tensors(Path(path))
    if not isinstance(obj, dict) or obj.get("format") != FORMAT:
        raise LotteryError(f"{path} is not a lottery ticket file (or it is damaged)")
    if obj.get("version") != VERSION:
        raise LotteryError(f"{path} is ticket format version {obj.get('version')}; this lottery reads {VERSION}")
    _check_masks(obj["state_dict"], obj["masks"])
    return SavedTicket(obj["state_dict"], obj["masks"], obj.get("meta", {}))


def _split(model: nn.Module, name: str) -> tuple[nn.Module, str]:
    module_name, _, param_name = name.rpartition(".")
    try:
        module = model.get_submodule(module_name)
    except AttributeError:
        raise LotteryError(f"the model has no module {module_name!r} for mask {name!r}") from None
    if not isinstance(getattr(module, param_name, None), nn.Parameter):
        raise LotteryError(f"the model has no parameter {name!r} to mask")
    return module, param_name


def apply_to_model(model: nn.Module, masks: Mask, state_dict: dict | None = None) -> nn.Module:
    """Load ``state_dict`` (if given) into ``model``, then attach ``masks`` with torch's pruning
    utilities (``prune.custom_from_mask``). Returns the model, changed in place."""
    if state_dict is not None:
        model.load_state_dict(state_dict)
    targets = {name: _split(model, name) for name in masks}  # check every name before changing anything
    for name, (module, param_name) in targets.items():
        weight = getattr(module, param_name)
        if masks[name].shape != weight.shape:
            raise LotteryError(
                f"mask {name!r} has shape {tuple(masks[name].shape)}, the parameter {tuple(weight.shape)}"
            )
        prune.custom_from_mask(module, param_name, masks[name].to(weight.device))
    return model


def load_into(model: nn.Module, path: Path) -> SavedTicket:
    """Load a ticket file into ``model`` (weights + torch pruning masks)."""
    ticket = load_ticket(path)
    apply_to_model(model, ticket.masks, ticket.state_dict)
    return ticket


def _pruned(model: nn.Module):
    """(qualified name, module, parameter name) of each parameter pruned with torch.nn.utils.prune."""
    for module_name, module in model.named_modules():
        for hook in module._forward_pre_hooks.values():
            if isinstance(hook, prune.BasePruningMethod):
                yield (
                    f"{module_name}.{hook._tensor_name}" if module_name else hook._tensor_name,
                    module,
                    hook._tensor_name,
                )


def masks_from_model(model: nn.Module) -> Mask:
    """The masks torch's pruning utilities hold in ``model`` (``<name>_mask`` buffers), as lottery masks."""
    return {name: getattr(module, f"{param}_mask").detach().cpu().bool() for name, module, param in _pruned(model)}


def make_permanent(model: nn.Module) -> nn.Module:
    """Fold every torch pruning mask into its parameter (``prune.remove``): plain parameters again, zeros kept."""
    for _, module, param in list(_pruned(model)):
        prune.remove(module, param)
    return model


def export_experiment_ticket(folder: Path, trial: int, level: int, out: Path, weights: str = "reset") -> SavedTicket:
    """Write the ticket of ``trial`` at ``level`` of an experiment folder to ``out``.

    ``weights="reset"``: the weights its survivors start from (θ0, or θk when rewinding) -- the
    lottery ticket itself; ``"final"``: the weights after that level's training."""
    exp = ExperimentFolder(Path(folder))
    info = exp.info
    if weights not in WEIGHTS:
        raise LotteryError(f"unknown weights {weights!r}; choose one of: {', '.join(WEIGHTS)}")
    record = exp.record(trial, TICKET, level)
    if record is None:
        levels = exp.ticket_levels(trial)
        raise LotteryError(
            f"trial {trial} of {folder} has no finished ticket level {level} "
            f"(finished: {', '.join(map(str, levels)) or 'none'})"
        )
    trial_paths, level_paths = exp.trial(trial), exp.level(trial, TICKET, level)
    rewind = info.hparams.rewind_iteration
    source = level_paths.final if weights == "final" else trial_paths.rewind if rewind else trial_paths.init
    mask, state = load_tensors(level_paths.mask), load_tensors(source)
    if mask is None or state is None:
        raise LotteryError(
            f"{level_paths.mask if mask is None else source} is missing or damaged; run the "
            "experiment's `lottery run` command again to redo it"
        )
    meta = {
        "experiment": info.name,
        "model": info.hparams.model.name,
        "dataset": info.hparams.dataset.name,
        "trial": trial,
        "level": level,
        "weights": weights,
        "rewind_iteration": rewind,
        "summary": record.summary.to_json(),
        "hparams": info.hparams.to_dict(),
    }
    save_ticket(out, state, mask, meta=meta)
    return load_ticket(out)
