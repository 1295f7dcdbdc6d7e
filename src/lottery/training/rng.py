"""The random-number state a checkpoint must carry for an exact resume: dropout draws from the
default CPU generator, and on a GPU from that device's CUDA generator."""

import torch


def rng_state(device: torch.device) -> dict:
    """The generator states that training on ``device`` draws from, as checkpoint entries."""
    state = {"rng": torch.get_rng_state()}
    if device.type == "cuda":
        state["cuda_rng"] = torch.cuda.get_rng_state(device)
    return state


def restore_rng_state(checkpoint: dict, device: torch.device) -> None:
    """Put back what :func:`rng_state` saved (a checkpoint without ``cuda_rng`` restores the CPU state only)."""
    torch.set_rng_state(checkpoint["rng"])
    if device.type == "cuda" and "cuda_rng" in checkpoint:
        torch.cuda.set_rng_state(checkpoint["cuda_rng"], device)
