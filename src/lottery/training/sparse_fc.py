"""Placeholder: sparse kernels for very sparse layers (filled in below)."""


def sparse_wins(keep, threshold):
    return False


class SparseLinearStack:
    pass
