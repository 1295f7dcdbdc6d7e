"""Optimizers and the learning-rate schedule (linear warmup, then step drops)."""

import torch

from ..hparams import TrainingHparams


def make_optimizer(params, hp: TrainingHparams) -> torch.optim.Optimizer:
    """A fresh optimizer (new state) — built anew for every training run, never reused across levels."""
    params = list(params)
    if hp.optimizer == "adam":
        fused = all(p.device.type in ("cpu", "cuda") for p in params)
        return torch.optim.Adam(params, lr=hp.lr, weight_decay=hp.weight_decay, fused=fused)
    return torch.optim.SGD(params, lr=hp.lr, momentum=hp.momentum, weight_decay=hp.weight_decay)


def learning_rate(hp: TrainingHparams, iteration: int) -> float:
    """Learning rate for the step taken at ``iteration`` (0-based)."""
    lr = hp.lr
    if hp.warmup and iteration < hp.warmup:
        lr *= (iteration + 1) / hp.warmup
    for drop in hp.lr_drops:
        if iteration >= drop:
            lr *= hp.lr_drop_factor
    return lr


def schedule_is_constant(hp: TrainingHparams) -> bool:
    return not hp.warmup and not hp.lr_drops
