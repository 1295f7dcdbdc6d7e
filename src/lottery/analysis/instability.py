"""Instability analysis (Frankle et al. 2020, "Linear Mode Connectivity and the Lottery Ticket Hypothesis").

From a subnetwork's start weights (mask ⊙ θ0, or mask ⊙ θk when rewinding to iteration k), train two
copies that differ only in their data order (and dropout draws), then evaluate the test error along
the straight line between their final weights. The **error barrier** is the highest error on that line
minus the mean of the two ends' errors: about 0 when the two runs land in one linearly connected
region (the network is *stable* to SGD noise), large when they do not.

The start at iteration k is the *dense* network's weights after k iterations of its own training (the
experiment's level 0: same seed, hence same data order), masked -- the point IMP with rewinding resets
to. It is replayed by training θ0 for k iterations (or read from the experiment's ``rewind.pt`` when k
is the experiment's own rewind iteration). The mask is the experiment's at the level: for a k other
than the one the experiment pruned with, that is the mask IMP found when rewinding to the experiment's
iteration, not to k.

Pruned weights are zero at both ends, so every interpolated network keeps them at zero (enforced all
the same). Batch norm running statistics of each interpolated network are recomputed from training
images, since averaging the two ends' statistics does not describe the averaged weights.
"""

import csv
import io
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import torch
from torch import nn

from ..data import DataSplits
from ..data.augment import flip_and_crop
from ..errors import UsageError
from ..experiments.build import build_model, load_data, trial_seed
from ..experiments.data_record import check_data_record, data_record
from ..experiments.folder import ExperimentFolder
from ..experiments.layout import TICKET, ExperimentPaths
from ..pruning import Mask, apply_mask, density
from ..report.plots import plt, save_figure
from ..seeds import derive_seed
from ..storage import load_json, load_tensors, save_json, save_tensors
from ..training import Schedule, evaluate, train

BN_EXAMPLES, BN_BATCH = 2000, 200  # training images used to recompute batch norm statistics


def error_barrier(errors: list[float]) -> float:
    """Highest error along the path minus the mean of its two ends' errors."""
    if len(errors) < 2:
        raise ValueError("an interpolation path needs at least its two ends")
    return max(errors) - (errors[0] + errors[-1]) / 2


def bump_height(alphas: list[float], errors: list[float]) -> float:
    """Highest error along the path above the straight line between its two ends' errors (0 if never above).
    Unlike :func:`error_barrier`, it is 0 for a path that only rises from the better end to the worse one,
    where the barrier is half the difference of the ends."""
    chord = [(1 - a) * errors[0] + a * errors[-1] for a in alphas]
    return max(0.0, max(e - c for e, c in zip(errors, chord)))


def interpolate(a: dict, b: dict, alpha: float, mask: Mask | None = None) -> dict:
    """(1 - alpha) a + alpha b for floating tensors (integer buffers such as batch counts come from ``a``);
    pruned entries of ``mask`` exactly zero."""
    out = {
        k: torch.lerp(v, b[k].to(v.device, v.dtype), alpha) if v.is_floating_point() else v.clone()
        for k, v in a.items()
    }
    for name, keep in (mask or {}).items():
        out[name] = out[name] * keep.to(out[name].device, out[name].dtype)
    return out


def has_batchnorm(model: nn.Module) -> bool:
    return any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules())


@torch.no_grad()
def recompute_batchnorm(model: nn.Module, x: torch.Tensor, batch: int = BN_BATCH) -> None:
    """Replace batch norm running statistics by their average over ``x`` under the current weights
    (only batch norm layers switch to training mode: dropout stays off)."""
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    was_training = model.training
    model.eval()
    saved = [(m, m.momentum) for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # cumulative average over the batches below
        m.train()
    try:
        for lo in range(0, len(x), batch):
            model(x[lo : lo + batch])
    finally:
        for m, momentum in saved:
            m.momentum = momentum
        model.train(was_training)


def path_errors(
    model: nn.Module,
    a: dict,
    b: dict,
    mask: Mask | None,
    x: torch.Tensor,
    y: torch.Tensor,
    points: int = 30,
    bn_data: torch.Tensor | None = None,
) -> tuple[list[float], list[float]]:
    """(alphas, test errors) at ``points`` evenly spaced points from ``a`` (alpha 0) to ``b`` (alpha 1).
    ``bn_data``: images to recompute batch norm statistics from (needed when the model has batch norm)."""
    if points < 2:
        raise UsageError(f"the interpolation needs at least 2 points, got {points}")
    recompute = has_batchnorm(model)
    if recompute and bn_data is None:
        raise UsageError("the model has batch norm: pass bn_data= (training images) to recompute its statistics")
    alphas = torch.linspace(0, 1, points, dtype=torch.float64).tolist()
    errors = []
    for alpha in alphas:
        model.load_state_dict(interpolate(a, b, alpha, mask))
        if recompute and bn_data is not None:
            recompute_batchnorm(model, bn_data)
        errors.append(1.0 - evaluate(model, x, y)[1])
    return alphas, errors


@dataclass
class PathResult:
    level: int
    rewind: int
    density: float
    alphas: list[float]
    errors: list[float]

    @property
    def barrier(self) -> float:
        return error_barrier(self.errors)

    @property
    def bump(self) -> float:
        return bump_height(self.alphas, self.errors)


class InstabilityRun:
    """Instability of the ticket of one trial of an experiment folder at chosen levels and rewind iterations."""

    def __init__(
        self,
        folder: Path,
        trial: int = 0,
        *,
        data_dir: Path | None = None,
        download: bool = False,
        device: str = "cpu",
        progress: bool = True,
        data: DataSplits | None = None,
    ):
        self.exp = ExperimentFolder(Path(folder))
        self.hp = self.exp.hparams
        if trial not in self.exp.trials():
            trials = ", ".join(map(str, self.exp.trials())) or "none"
            raise UsageError(f"{folder} has no trial {trial} (trials: {trials})")
        self.trial, self.device, self.progress = trial, torch.device(device), progress
        self.data = (data or load_data(self.hp, data_dir, download)).to(self.device)
        hparams_file = ExperimentPaths(Path(folder)).hparams
        check_data_record(
            load_json(hparams_file) or {}, data_record(self.data), hparams_file, "give the --data-dir it was made from"
        )
        self.trial_seed = trial_seed(self.hp, trial)
        self._starts: dict[int, dict] = {}

    def build_model(self) -> nn.Module:
        return build_model(self.hp, self.data, self.device)

    def _train(self, state: dict, mask: Mask, seed: int, start_iteration: int, iterations: int, what: str) -> dict:
        model = self.build_model()
        model.load_state_dict(state)
        apply_mask(model, mask)
        t = self.hp.training
        hp = replace(t, iterations=iterations, eval_every=iterations)  # no curve needed: evaluate at the ends only
        result = train(
            model,
            mask,
            self.data,
            hp,
            seed,
            Schedule(start_iteration=start_iteration, progress=self.progress, description=what),
            augment=flip_and_crop if self.hp.dataset.augment else None,
        )
        return result.final_state

    def start_state(self, rewind: int) -> dict:
        """The dense network's weights at iteration ``rewind`` of the trial's level-0 training."""
        if rewind not in self._starts:
            if not 0 <= rewind < self.hp.training.iterations:
                raise UsageError(
                    f"--rewind {rewind} must be in [0, {self.hp.training.iterations}) "
                    "(the experiment's training iterations)"
                )
            if rewind == 0:
                state = self.exp.initial(self.trial)
            elif rewind == self.hp.rewind_iteration:
                state = self.exp.start(self.trial)
            else:
                state = self.replay_dense(rewind)
            self._starts[rewind] = {k: v.to(self.device) for k, v in state.items()}
        return self._starts[rewind]

    def replay_dense(self, iterations: int) -> dict:
        """θ_iterations of the trial's dense training: θ0 trained with the trial's seed (its data order)."""
        dense = {n: torch.ones_like(m) for n, m in self.exp.mask(self.trial, TICKET, 0).items()}
        return self._train(
            self.exp.initial(self.trial), dense, self.trial_seed, 0, iterations, f"dense to iteration {iterations}"
        )

    def ticket_mask(self, level: int) -> Mask:
        if level not in self.exp.ticket_levels(self.trial):
            raise UsageError(
                f"trial {self.trial} of {self.exp.folder} has no finished ticket level {level} (finished: "
                f"{', '.join(map(str, self.exp.ticket_levels(self.trial))) or 'none'})"
            )
        return self.exp.mask(self.trial, TICKET, level)

    def train_copies(self, level: int, rewind: int) -> list[dict]:
        """The two copies of the ticket at ``level``, trained from iteration ``rewind`` with different data orders."""
        mask = self.ticket_mask(level)
        start = self.start_state(rewind)
        return [
            self._train(
                start,
                mask,
                derive_seed(self.trial_seed, "instability", copy),
                rewind,
                self.hp.training.iterations,
                f"level {level} rewind {rewind} copy {copy}",
            )
            for copy in (0, 1)
        ]

    def path(self, level: int, rewind: int, copies: list[dict], points: int) -> PathResult:
        """The test error along the line between two trained copies of the ticket at ``level``."""
        mask = self.ticket_mask(level)
        model = self.build_model()
        bn_data = self.data.train_x[:BN_EXAMPLES] if has_batchnorm(model) else None
        a, b = copies
        alphas, errors = path_errors(model, a, b, mask, self.data.test_x, self.data.test_y, points, bn_data)
        return PathResult(level, rewind, density(mask), alphas, errors)

    def measure(self, level: int, rewind: int, points: int) -> PathResult:
        return self.path(level, rewind, self.train_copies(level, rewind), points)

    def save_copies(self, path: Path, level: int, rewind: int, copies: list[dict]) -> None:
        """Both trained copies in one file, written atomically (a crash leaves the old file or none)."""
        cpu = [{k: v.detach().cpu() for k, v in c.items()} for c in copies]
        record = {"experiment": self.exp.name, "trial": self.trial, "level": level, "rewind": rewind, "copies": cpu}
        save_tensors(path, record)

    def load_copies(self, path: Path, level: int, rewind: int) -> list[dict] | None:
        """The copies :meth:`save_copies` stored for this experiment, trial, level and rewind; None when the
        file is absent, damaged or holds other networks (then they are trained again)."""
        record = load_tensors(path)
        if not isinstance(record, dict):
            return None
        names = set(self.build_model().state_dict())
        copies = record.get("copies")
        if (
            [record.get(k) for k in ("experiment", "trial", "level", "rewind")]
            != [self.exp.name, self.trial, level, rewind]
            or not isinstance(copies, list)
            or len(copies) != 2
            or not all(isinstance(c, dict) and set(c) == names for c in copies)
        ):
            return None
        return [{k: v.to(self.device) for k, v in c.items()} for c in copies]


def _result_file(out: Path, trial: int, level: int, rewind: int) -> Path:
    return out / "paths" / f"trial_{trial}-level_{level}-rewind_{rewind}.json"


def _networks_file(out: Path, trial: int, level: int, rewind: int) -> Path:
    return out / "networks" / f"trial_{trial}-level_{level}-rewind_{rewind}.pt"


def run_instability(
    folder: Path,
    levels: list[int],
    rewinds: list[int] | None,
    out: Path,
    *,
    trial: int = 0,
    points: int = 30,
    keep_networks: bool = False,
    data_dir: Path | None = None,
    download: bool = False,
    device: str = "cpu",
    progress: bool = True,
    data: DataSplits | None = None,
) -> tuple[list[PathResult], list[Path]]:
    """Measure every (level, rewind) pair (each saved as it finishes and reused by a later call with the same
    points), then write the figure and tables. ``rewinds`` None: the experiment's own rewind iteration.
    ``keep_networks``: also save the two trained copies of each pair under ``out/networks/``. Copies found
    there are used instead of training new ones, so a path is re-evaluated (e.g. with other points) without
    training."""
    if points < 2:
        raise UsageError(f"--points must be at least 2, got {points}")
    if not levels:
        raise UsageError("--level names no level to measure")
    run = InstabilityRun(
        folder, trial, data_dir=data_dir, download=download, device=device, progress=progress, data=data
    )
    rewinds = sorted(set(rewinds)) if rewinds else [run.hp.rewind_iteration]
    out = Path(out)
    results = []
    for level in sorted(set(levels)):
        for rewind in rewinds:
            path, networks = _result_file(out, trial, level, rewind), _networks_file(out, trial, level, rewind)
            stored = load_json(path)
            copies = run.load_copies(networks, level, rewind) if networks.exists() else None
            reusable = stored and stored.get("experiment") == run.exp.name and len(stored.get("errors", [])) == points
            if reusable and (copies is not None or not keep_networks):
                results.append(PathResult(**{k: stored[k] for k in ("level", "rewind", "density", "alphas", "errors")}))
                continue
            if copies is None:
                copies = run.train_copies(level, rewind)
                if keep_networks:
                    run.save_copies(networks, level, rewind, copies)
            result = run.path(level, rewind, copies, points)
            save_json(path, {"experiment": run.exp.name, "trial": trial, **asdict(result), "barrier": result.barrier})
            results.append(result)
    title = f"{run.exp.name}, trial {trial}"
    return results, write_outputs(results, out, title)


def write_outputs(results: list[PathResult], out: Path, title: str) -> list[Path]:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(5.2, 3.6), constrained_layout=True)
    for r in results:
        ax.plot(
            r.alphas,
            [100 * e for e in r.errors],
            marker="o",
            markersize=2.5,
            label=f"level {r.level} (Pm {100 * r.density:.3g}%), rewind {r.rewind}: barrier {100 * r.barrier:.2f}",
        )
    ax.set_xlabel("Interpolation α (0: copy A, 1: copy B)")
    ax.set_ylabel("Test error (%)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    ax.set_title(f"Error along the line between two copies\n{title}", fontsize=9)
    written = [save_figure(fig, out / "instability.png")]
    levels, rewinds = sorted({r.level for r in results}), sorted({r.rewind for r in results})
    if len(levels) > 1 or len(rewinds) > 1:
        fig, ax = plt.subplots(figsize=(5.2, 3.6), constrained_layout=True)
        by_rewind = len(rewinds) > 1
        for key in levels if by_rewind else rewinds:
            rows = sorted(
                (r for r in results if (r.level if by_rewind else r.rewind) == key),
                key=lambda r: r.rewind if by_rewind else r.level,
            )
            ax.plot(
                [r.rewind if by_rewind else r.level for r in rows],
                [100 * r.barrier for r in rows],
                marker="o",
                label=f"level {key}" if by_rewind else f"rewind {key}",
            )
        ax.set_xlabel("Rewind iteration k" if by_rewind else "Pruning level")
        ax.set_ylabel("Error barrier (percentage points)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
        ax.set_title(f"Instability\n{title}", fontsize=9)
        written.append(save_figure(fig, out / "instability_barrier.png"))
    table = io.StringIO()
    writer = csv.writer(table, lineterminator="\n")
    writer.writerow(["level", "pm_percent", "rewind", "barrier", "bump", "error_a", "error_b", "max_error"])
    lines = [
        f"# Instability: {title}",
        "",
        "Test error along the line between two copies trained from the same start with different data orders; "
        "barrier = highest error on the line minus the mean of the two ends; bump = highest error above the "
        "straight line between the ends' errors (both in percentage points).",
        "",
        "| level | Pm % | rewind | barrier | bump | error A % | error B % | max error % |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in sorted(results, key=lambda r: (r.level, r.rewind)):
        writer.writerow(
            [
                r.level,
                f"{100 * r.density:.4g}",
                r.rewind,
                f"{r.barrier:.6g}",
                f"{r.bump:.6g}",
                f"{r.errors[0]:.6g}",
                f"{r.errors[-1]:.6g}",
                f"{max(r.errors):.6g}",
            ]
        )
        lines.append(
            f"| {r.level} | {100 * r.density:.3g} | {r.rewind} | {100 * r.barrier:.2f} | {100 * r.bump:.2f} | "
            f"{100 * r.errors[0]:.2f} | {100 * r.errors[-1]:.2f} | {100 * max(r.errors):.2f} |"
        )
    curves = io.StringIO()
    cw = csv.writer(curves, lineterminator="\n")
    cw.writerow(["level", "rewind", "alpha", "error"])
    for r in results:
        cw.writerows([r.level, r.rewind, f"{a:.6g}", f"{e:.6g}"] for a, e in zip(r.alphas, r.errors))
    for name, text in (
        ("instability.csv", table.getvalue()),
        ("instability.md", "\n".join(lines) + "\n"),
        ("instability_curves.csv", curves.getvalue()),
    ):
        (out / name).write_text(text)
        written.append(out / name)
    return written
