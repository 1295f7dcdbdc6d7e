"""How much two masks agree: the Jaccard index of their kept sets, per layer and over all layers, and
what two independent uniformly random masks with the same per-layer counts would give, for scale."""

import torch

from ..pruning import Mask

ALL = "all"  # key of the figure over every layer together


def jaccard(a: Mask, b: Mask) -> dict[str, float]:
    """|a ∩ b| / |a ∪ b| of the kept sets, per layer and over all layers (``"all"``); 1 when both keep nothing."""
    if a.keys() != b.keys():
        raise ValueError(f"the masks name different layers: {sorted(a)} vs {sorted(b)}")
    out, inter_all, union_all = {}, 0, 0
    for name in a:
        x, y = a[name].cpu().bool(), b[name].cpu().bool()
        if x.shape != y.shape:
            raise ValueError(f"mask {name!r} has shapes {tuple(x.shape)} and {tuple(y.shape)}")
        inter, union = int((x & y).sum()), int((x | y).sum())
        out[name] = inter / union if union else 1.0
        inter_all, union_all = inter_all + inter, union_all + union
    out[ALL] = inter_all / union_all if union_all else 1.0
    return out


def expected_random_jaccard_counts(n: int, a: int, b: int) -> float:
    """E[|A ∩ B| / |A ∪ B|] for independent uniformly random subsets A, B of {1..n} with |A| = a, |B| = b.
    Exact: |A ∩ B| is hypergeometric, and the expectation is a sum over its values."""
    if not (0 <= a <= n and 0 <= b <= n):
        raise ValueError(f"cannot keep {a} and {b} of {n} weights")
    if a == 0 and b == 0:
        return 1.0
    low, high = max(0, a + b - n), min(a, b)
    i = torch.arange(low, high + 1, dtype=torch.float64)

    def log_choose(top, k):
        return (
            torch.lgamma(torch.as_tensor(top + 1.0, dtype=torch.float64))
            - torch.lgamma(k + 1)
            - torch.lgamma(top - k + 1)
        )

    # P(|A ∩ B| = i) = C(a, i) C(n - a, b - i) / C(n, b)
    log_p = log_choose(a, i) + log_choose(n - a, b - i) - log_choose(n, torch.tensor(float(b), dtype=torch.float64))
    return float((torch.exp(log_p) * i / (a + b - i)).sum())


def expected_random_jaccard(a: Mask, b: Mask) -> dict[str, float]:
    """What :func:`jaccard` would give for two independent random masks with the per-layer counts of ``a`` and
    ``b``: exact per layer; over all layers E|A ∩ B| / (|A| + |B| - E|A ∩ B|), which the exact value
    approaches as layers grow (the intersection concentrates around its mean)."""
    out, inter_all, total_all = {}, 0.0, 0
    for name in a:
        n, ka, kb = a[name].numel(), int(a[name].sum()), int(b[name].sum())
        out[name] = expected_random_jaccard_counts(n, ka, kb)
        inter_all += ka * kb / n if n else 0.0
        total_all += ka + kb
    out[ALL] = inter_all / (total_all - inter_all) if total_all else 1.0
    return out
