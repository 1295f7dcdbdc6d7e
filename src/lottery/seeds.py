"""Deterministic, named seeds: every random stream is derived from (base seed, purpose)."""

import hashlib

import torch


def derive_seed(base: int, *names: object) -> int:
    """A 63-bit seed that depends only on ``base`` and ``names`` (stable across runs and machines)."""
    text = "/".join([str(base), *map(str, names)])
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little") >> 1


def generator(base: int, *names: object, device: str | torch.device = "cpu") -> torch.Generator:
    return torch.Generator(device=device).manual_seed(derive_seed(base, *names))
