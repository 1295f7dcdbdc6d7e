"""Shared fixtures: tiny in-memory data sets so end-to-end tests run in seconds."""

import errno
import os
from pathlib import Path

import pytest
import torch

from lottery.api import TicketSearch
from lottery.data import DataSplits
from lottery.models import get_model_spec
from lottery.pruning import apply_mask, layerwise_magnitude_prune

# A lottery run on the embedded digits that takes seconds: 2 levels of 40 iterations.
QUICK_RUN = [
    "run",
    "--preset",
    "lenet-digits",
    "--iterations",
    "40",
    "--eval-every",
    "20",
    "--levels",
    "1",
    "--no-progress",
]

# The first words of a lottery run of 20 iterations on the embedded digits (levels and branches follow).
TINY_RUN = ["run", "--preset", "lenet-digits", "--iterations", "20", "--eval-every", "10"]

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def make_splits(n_train=240, n_val=60, n_test=60, shape=(1, 28, 28), classes=10, seed=0) -> DataSplits:
    """Random inputs with labels that depend on them, so a network can learn something."""
    g = torch.Generator().manual_seed(seed)
    prototypes = torch.randn(classes, *shape, generator=g)

    def draw(n):
        y = torch.randint(0, classes, (n,), generator=g)
        x = prototypes[y] + 0.5 * torch.randn(n, *shape, generator=g)
        return x, y

    return DataSplits(*draw(n_train), *draw(n_val), *draw(n_test), classes)


def pruned_lenet(data, rate=0.5, seed=0):
    """LeNet-300-100 initialised from ``seed``, with ``rate`` of every prunable layer magnitude-pruned."""
    model = get_model_spec("lenet_300_100").build(data.input_shape, data.num_classes)
    model.reset_parameters(torch.Generator().manual_seed(seed))
    weights = dict(model.named_parameters())
    mask = {n: torch.ones_like(weights[n], dtype=torch.bool) for n in model.prunable_kinds()}
    mask = layerwise_magnitude_prune(weights, mask, {n: rate for n in mask})
    apply_mask(model, mask)
    return model, mask


def model_state(name: str, seed: int):
    """A registered model drawn from ``seed`` (biases nonzero) and a copy of its state dict."""
    shape = (1, 28, 28) if name == "lenet_300_100" else (3, 32, 32)
    model = get_model_spec(name).build(shape, 10)
    model.reset_parameters(torch.Generator().manual_seed(seed))
    with torch.no_grad():
        for p in model.parameters():  # nonzero biases: tensors outside the mask must come through unchanged
            if p.dim() == 1:
                p.uniform_(-1, 1)
    return {k: v.detach().clone() for k, v in model.state_dict().items()}, model


def ticket(name: str = "lenet_300_100", keep: float = 0.3):
    """θ0 and a mask keeping ``keep`` of each prunable layer (magnitude pruned, as a ticket would be)."""
    state, model = model_state(name, 0)
    search = TicketSearch(model, rate=1 - keep)
    return state, search.prune()


@pytest.fixture
def tiny_data() -> DataSplits:
    return make_splits()


@pytest.fixture
def fashion_dir() -> Path:
    folder = SHARED_DATA / "fashion-mnist"
    if not (folder / "train-images-idx3-ubyte.gz").exists():
        pytest.skip(f"real Fashion-MNIST files not found under {folder}")
    return folder


@pytest.fixture(autouse=True, scope="session")
def one_torch_thread():
    """Tiny test networks run faster on one thread, and the suite stays quick when cores are shared."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(autouse=True, scope="session")
def data_cache_in_tmp(tmp_path_factory):
    """Decoded data sets are cached in a folder of the test session, never in the user's cache."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LOTTERY_CACHE", str(tmp_path_factory.mktemp("lottery-cache")))
        yield


class FullDisk:
    """A file whose writes fail as on a full disk."""

    def __init__(self, f):
        self.f = f

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.f.close()

    def fileno(self):
        return self.f.fileno()

    def write(self, data):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
