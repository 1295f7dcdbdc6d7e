"""Pruning at initialization as branches next to the ticket: SNIP (Lee et al. 2019), GraSP (Wang et al.
2020), SynFlow (Tanaka et al. 2020), and the sanity checks of Frankle et al. 2021 ("Pruning Neural
Networks at Initialization: Why are We Missing the Mark?") on each of them.

At level k, a method scores θ0 of the trial (scores and masks: pruning/at_init.py) and keeps exactly
as many weights as the ticket of level k: the layers a global ranking ranks (the experiment's
``--prune-global-kinds``; under layer-wise pruning every conv and hidden fc layer it prunes) are ranked
together, as in the methods' papers, and keep the ticket's total; every other layer (the output layer,
shortcuts) keeps the ticket's count for that layer. ``--pai-layerwise``: every layer keeps the ticket's
count. It trains from θ0 at iteration 0 for the full budget. SNIP and GraSP score a few batches of the
training split drawn with a seed named by (trial, method, draw, level); SynFlow needs no data.

A check is its own branch, a suffix of the method's name, and changes one thing of the method's
mask of the same draw and level:

* ``<method>_shuffle``: the mask shuffled within each layer (same per-layer counts), trained from θ0;
* ``<method>_reinit``: the mask, trained from a fresh draw of the init distribution;
* ``<method>_invert``: the inverted ranking (keeps the weights the method would remove), from θ0.

A method's settings (its scoring batches and batch size, GraSP's temperature, SynFlow's rounds,
``--pai-layerwise``) are those of all its checks. Non-default settings name the folder, as
non-default hyperparameters name the experiment: ``snip_0``, ``snip-batches4-layerwise_0``,
``snip_shuffle-batches4-layerwise_0``; ``metrics.json`` records them under ``at_init``.
"""

import argparse
import math
from dataclasses import asdict, dataclass, field, fields
from typing import ClassVar

import torch

from ..errors import LotteryError, UsageError
from ..models.base import CONV, FC
from ..pruning import GlobalRanking, LayerWise, Mask
from ..pruning.at_init import (
    Batch,
    grasp_scores,
    keep_bottom,
    keep_top,
    ranking_groups,
    snip_scores,
    synflow_mask,
)
from ..pruning.draws import mask_shuffle
from ..seeds import derive_seed, generator
from ..settings import parse_positive_int
from ..storage import load_tensors
from .branch_settings import Draw, Draws, WithSettings, non_default
from .branches import Start, Style, find_branch, register_branch
from .experiment import Experiment
from .imp import ticket_mask

SNIP, GRASP, SYNFLOW = "snip", "grasp", "synflow"
METHODS = (SNIP, GRASP, SYNFLOW)
SHUFFLE, REINIT, INVERT = "shuffle", "reinit", "invert"
CHECKS = (SHUFFLE, REINIT, INVERT)
LAYERWISE_FLAG = "--pai-layerwise"


def _positive_float(text: str) -> float:
    value = float(text)
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return value


def _setting(default, help: str):
    return field(default=default, metadata={"help": help})


LAYERWISE_HELP = "keep the ticket's count in every layer instead of ranking layers together"


class _CheckedSettings:
    """A method's settings are checked when made (dataclasses call ``__post_init__``)."""

    def __post_init__(self):
        _check_settings(self)


@dataclass(frozen=True)
class SnipSettings(_CheckedSettings):
    batches: int = _setting(1, "SNIP: batches of the training split it scores (paper: 1)")
    batch_size: int = _setting(100, "SNIP: examples per scoring batch")
    layerwise: bool = _setting(False, LAYERWISE_HELP)


@dataclass(frozen=True)
class GraspSettings(_CheckedSettings):
    batches: int = _setting(1, "GraSP: batches of the training split it scores (paper: 1)")
    batch_size: int = _setting(100, "GraSP: examples per scoring batch (paper: 10 per class of CIFAR-10)")
    temperature: float = _setting(200.0, "GraSP: the logits are divided by this when scoring (paper's code: 200)")
    layerwise: bool = _setting(False, LAYERWISE_HELP)


@dataclass(frozen=True)
class SynflowSettings(_CheckedSettings):
    rounds: int = _setting(100, "SynFlow: pruning rounds on the exponential schedule (paper: 100)")
    layerwise: bool = _setting(False, LAYERWISE_HELP)


Settings = SnipSettings | GraspSettings | SynflowSettings
SETTINGS: dict[str, type[Settings]] = {SNIP: SnipSettings, GRASP: GraspSettings, SYNFLOW: SynflowSettings}


def _method_of(settings) -> str:
    return next(m for m, kind in SETTINGS.items() if isinstance(settings, kind))


def settings_flag(method: str, name: str) -> str:
    return LAYERWISE_FLAG if name == "layerwise" else f"--{method}-{name.replace('_', '-')}"


def _check_settings(settings) -> None:
    for f in fields(settings):
        value = getattr(settings, f.name)
        if isinstance(f.default, bool):
            bad = not isinstance(value, bool)
        elif isinstance(f.default, int):
            bad = not (isinstance(value, int) and not isinstance(value, bool) and value > 0)
        else:
            bad = not (isinstance(value, int | float) and math.isfinite(value) and value > 0)
        if bad:
            flag = settings_flag(_method_of(settings), f.name)
            raise UsageError(
                f"{flag} {value} is impossible: it must be {'on or off' if f.name == 'layerwise' else '> 0'}"
            )


class AtInit(WithSettings):
    """A method (``check`` None) or one of its sanity checks. Subclasses set ``method`` (and ``check``);
    the name, flag, order and style follow from them."""

    method: ClassVar[str]
    check: ClassVar[str | None] = None
    from_paper = False
    COLORS: ClassVar[dict] = {SNIP: "tab:cyan", GRASP: "tab:olive", SYNFLOW: "tab:pink"}
    CHECK_STYLE: ClassVar[dict] = {
        None: ("*", ""),
        SHUFFLE: ("x", ", mask shuffled"),
        REINIT: ("s", ", reinitialized"),
        INVERT: ("v", ", scores inverted"),
    }
    CHECK_COLORS: ClassVar[dict] = {SHUFFLE: "tab:gray", REINIT: "goldenrod", INVERT: "black"}
    LABELS: ClassVar[dict] = {SNIP: "SNIP", GRASP: "GraSP", SYNFLOW: "SynFlow"}
    HELP: ClassVar[dict] = {
        None: "pruning at initialization with {label}: θ0's scores, the ticket's counts; N draws per trial",
        SHUFFLE: "{label}'s masks shuffled within each layer (Frankle et al. 2021); N draws",
        REINIT: "{label}'s masks trained from a fresh init (Frankle et al. 2021); N draws",
        INVERT: "{label} keeping the weights it would remove (Frankle et al. 2021); N draws",
    }

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        cls.name = cls.method + (f"_{cls.check}" if cls.check else "")
        cls.flag = f"--{cls.name.replace('_', '-')}-draws"
        cls.order = 50 + 10 * METHODS.index(cls.method) + (1 + CHECKS.index(cls.check) if cls.check else 0)
        marker, suffix = cls.CHECK_STYLE[cls.check]
        color = cls.CHECK_COLORS.get(cls.check, cls.COLORS[cls.method])
        cls.style = Style(color, marker, cls.LABELS[cls.method] + suffix)
        cls.help = cls.HELP[cls.check].format(label=cls.LABELS[cls.method])
        cls.settings_type = SETTINGS[cls.method]

    @property
    def deterministic(self) -> bool:
        """SynFlow needs no data: its mask (and the inverted one) is the same in every draw."""
        return self.method == SYNFLOW and self.check in (None, INVERT)

    # -- command line ---------------------------------------------------------------------------
    def add_argument(self, group) -> None:
        super().add_argument(group)
        if self.check is not None:
            return  # a method's settings flags are its checks' too
        for f in fields(self.settings_type):
            if f.name == "layerwise":
                continue
            group.add_argument(
                settings_flag(self.method, f.name),
                dest=f"{self.method}_{f.name}",
                type=_positive_float if isinstance(f.default, float) else parse_positive_int,
                default=f.default,
                metavar="T" if isinstance(f.default, float) else "N",
                help=f"{f.metadata['help']} (default {f.default})",
            )
        try:
            group.add_argument(
                LAYERWISE_FLAG,
                action="store_true",
                help="SNIP, GraSP, SynFlow and their checks: keep the ticket's count in every layer "
                "(default: rank the layers together, as the methods' papers do)",
            )
        except argparse.ArgumentError:
            pass  # added by another method's branch

    def request(self, args: argparse.Namespace) -> Draws:
        values: dict = {  # a flag missing from ``args`` (a parser of one's own) keeps its default
            f.name: getattr(args, "pai_layerwise" if f.name == "layerwise" else f"{self.method}_{f.name}", f.default)
            for f in fields(self.settings_type)
        }
        settings = self.settings_type(**values)
        if self.check is None:
            _refuse_unused(args, self.method, settings)
        return Draws(getattr(args, self.option), settings)

    # -- plan -----------------------------------------------------------------------------------
    def units(self, request, levels: int) -> list[tuple[Draw, int]]:  # type: ignore[override]
        count = self.as_draws(request).count
        if self.deterministic and count > 1:
            raise UsageError(
                f"{self.flag} {count}: SynFlow needs no data, so every draw would train the same network; "
                "ask for 1 (more trials give more samples)"
            )
        return super().units(request, levels)

    # -- one level ------------------------------------------------------------------------------
    def start(self, exp: Experiment, trial: int, draw, level: int) -> Start:
        draw = self.as_draw(draw)
        theta0 = exp.initial_state(trial)
        record = {
            "method": self.method,
            "check": self.check,
            "draw": draw.index,
            "settings": asdict(draw.settings),
            "scored": "θ0",
            "ranked_together": [] if draw.settings.layerwise else ranked_layers(exp),
        }
        if self.method != SYNFLOW:
            record["scoring_seed"] = scoring_seed(exp, trial, self.method, draw.index, level)
        stored = load_tensors(exp.paths.trial(trial).level(self.folder(draw), level).mask)  # resuming: as computed
        if self.check in (None, INVERT):
            invert = self.check == INVERT
            mask = stored if stored is not None else method_mask(exp, trial, self.method, draw, level, invert)
            record["kept"] = "lowest" if (self.method == GRASP) != invert else "highest"
            return Start(theta0, mask, extra={"at_init": record})
        if self.check == SHUFFLE:
            record["mask_seed"] = derive_seed(exp.trial_seed(trial), self.name, draw.index, level)
            if stored is None:
                shuffle = generator(exp.trial_seed(trial), self.name, draw.index, level)
                stored = mask_shuffle(theta0, plain_mask(exp, trial, self.method, draw, level), shuffle)[1]
            return Start(theta0, stored, extra={"at_init": record})
        record["init_seed"] = derive_seed(exp.trial_seed(trial), "init", self.name, draw.index)
        mask = stored if stored is not None else plain_mask(exp, trial, self.method, draw, level)
        return Start(exp.fresh_init(trial, self.name, draw.index), mask, extra={"at_init": record})


def _refuse_unused(args: argparse.Namespace, method: str, settings) -> None:
    """Settings flags of a method none of whose branches runs would change nothing: refuse them."""
    wanted = [getattr(args, f"{method}{'_' + c if c else ''}_draws", 0) for c in (None, *CHECKS)]
    given = {k: v for k, v in non_default(settings).items() if k != "layerwise"}
    if given and not any(wanted):
        name, value = next(iter(given.items()))
        raise UsageError(
            f"{settings_flag(method, name)} {value} is unused: no {method} branch is asked for "
            f"(--{method}-draws N, or one of its checks)"
        )
    all_wanted = [getattr(args, f"{m}{'_' + c if c else ''}_draws", 0) for m in METHODS for c in (None, *CHECKS)]
    if settings.layerwise and not any(all_wanted):
        raise UsageError(f"{LAYERWISE_FLAG} is unused: no SNIP, GraSP or SynFlow branch is asked for")


def ranked_layers(exp: Experiment) -> list[str]:
    """The layers a method ranks together: those the experiment's global ranking ranks; under layer-wise
    pruning, every conv and hidden fc layer it prunes (a global ranking's default kinds). The others
    (output layer, shortcuts, layers the ticket keeps whole) keep the ticket's count."""
    strategy = exp.pruning_strategy
    if isinstance(strategy, GlobalRanking):
        return list(strategy.names)
    rates = strategy.rates if isinstance(strategy, LayerWise) else {}
    return [n for n, kind in exp.prunable_kinds.items() if kind in (CONV, FC) and rates.get(n, 0) > 0]


def scoring_seed(exp: Experiment, trial: int, method: str, index: int, level: int) -> int:
    return derive_seed(exp.trial_seed(trial), method, "scoring batches", index, level)


def scoring_batches(exp: Experiment, trial: int, method: str, draw: Draw, level: int) -> list[Batch]:
    """``batches`` batches of ``batch_size`` distinct examples of the training split, seeded by (trial,
    method, draw, level): a method and its checks score the same examples."""
    settings = draw.settings
    assert isinstance(settings, SnipSettings | GraspSettings)
    data = exp.data
    need, have = settings.batches * settings.batch_size, len(data.train_y)
    if need > have:
        raise UsageError(
            f"{settings_flag(method, 'batches')} {settings.batches} x {settings_flag(method, 'batch_size')} "
            f"{settings.batch_size} = {need} examples, more than the training split's {have}"
        )
    g = torch.Generator().manual_seed(scoring_seed(exp, trial, method, draw.index, level))
    chosen = torch.randperm(have, generator=g)[:need].to(data.train_y.device)
    return [(data.train_x[i], data.train_y[i]) for i in chosen.split(settings.batch_size)]


def method_mask(exp: Experiment, trial: int, method: str, draw: Draw, level: int, invert: bool = False) -> Mask:
    """The mask ``method`` keeps at ``level`` from θ0 of ``trial`` (``invert``: the inverted ranking),
    with the ticket's counts."""
    target = ticket_mask(exp, trial, level)
    groups = ranking_groups(target, ranked_layers(exp), draw.settings.layerwise)
    model = exp.build_model()
    model.load_state_dict(exp.initial_state(trial))
    model.eval()  # batch norm at its initial statistics, no dropout: scores are a function of θ0 and the data
    try:
        if isinstance(draw.settings, SynflowSettings):
            mask = synflow_mask(model.cpu(), groups, exp.data.input_shape, draw.settings.rounds, lowest=invert)
        else:
            batches = scoring_batches(exp, trial, method, draw, level)
            if isinstance(draw.settings, GraspSettings):
                scores = grasp_scores(model, list(target), batches, draw.settings.temperature)
                invert = not invert  # GraSP removes the highest −θ ⊙ Hg
            else:
                scores = snip_scores(model, list(target), batches)
            mask = (keep_bottom if invert else keep_top)(scores, groups)
    except ValueError as error:
        raise LotteryError(f"{method} at trial {trial} level {level}: {error}") from None
    return {n: mask[n] for n in target}


def plain_mask(exp: Experiment, trial: int, method: str, draw: Draw, level: int) -> Mask:
    """The method's own mask of this draw and level: as stored by its branch, else computed (the same)."""
    branch = at_init_branch(method)
    if branch is not None:
        stored = load_tensors(exp.paths.trial(trial).level(branch.folder(draw), level).mask)
        if stored is not None:
            return stored
    return method_mask(exp, trial, method, draw, level)


def at_init_branch(kind: str) -> AtInit | None:
    """The pruning-at-initialization branch a folder kind (``snip``, ``grasp_invert-layerwise``) belongs to."""
    branch = find_branch(kind)
    return branch if isinstance(branch, AtInit) else None


@register_branch
class Snip(AtInit):
    method = SNIP


@register_branch
class SnipShuffle(Snip):
    check = SHUFFLE


@register_branch
class SnipReinit(Snip):
    check = REINIT


@register_branch
class SnipInvert(Snip):
    check = INVERT


@register_branch
class Grasp(AtInit):
    method = GRASP


@register_branch
class GraspShuffle(Grasp):
    check = SHUFFLE


@register_branch
class GraspReinit(Grasp):
    check = REINIT


@register_branch
class GraspInvert(Grasp):
    check = INVERT


@register_branch
class Synflow(AtInit):
    method = SYNFLOW


@register_branch
class SynflowShuffle(Synflow):
    check = SHUFFLE


@register_branch
class SynflowReinit(Synflow):
    check = REINIT


@register_branch
class SynflowInvert(Synflow):
    check = INVERT
