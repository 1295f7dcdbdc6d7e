"""Conv-2/4/6 on CIFAR-10: weight counts, per-kind pruning rates, the CIFAR-10 reader, an IMP run, Figure 5."""

import gzip
import io
import pickle
import struct
import tarfile
from itertools import pairwise
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import make_splits
from lottery.cli import main
from lottery.data import load_splits
from lottery.data.cifar import ARCHIVE, BATCH_DIR, read_archive
from lottery.data.registry import get_loader
from lottery.errors import LotteryError, UsageError
from lottery.experiments import Experiment
from lottery.models import count_weights, get_model_spec
from lottery.presets import get_preset
from lottery.report.compare import compare_series, figure5, series_styles
from lottery.storage import load_json, load_tensors, save_json

BATCHES = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]


# -- models ---------------------------------------------------------------------------------------
def conv_weights(channels):
    """3x3 kernels: 9 * in * out per convolution, starting from 3 RGB channels."""
    sizes = [3, *channels]
    return sum(9 * a * b for a, b in pairwise(sizes))


# (conv channels, width after the poolings, last conv channels) -> fc 256, 256, 10 on top
@pytest.mark.parametrize(
    "name, channels, side, paper_millions",
    [
        ("conv2", [64, 64], 16, 4.3),
        ("conv4", [64, 64, 128, 128], 8, 2.4),
        ("conv6", [64, 64, 128, 128, 256, 256], 4, 2.26),
    ],
)
def test_weight_counts(name, channels, side, paper_millions):
    model = get_model_spec(name).build((3, 32, 32), 10)
    fc = side * side * channels[-1] * 256 + 256 * 256
    assert count_weights(model, ("conv",)) == conv_weights(channels)
    assert count_weights(model, ("fc",)) == fc
    assert count_weights(model, ("output",)) == 256 * 10
    total = count_weights(model)
    assert total == conv_weights(channels) + fc + 2560
    assert round(total / 1e6, 2 if name == "conv6" else 1) == paper_millions


def test_layers_tagged_and_forward_shape():
    model = get_model_spec("conv6").build((3, 32, 32), 10)
    kinds = model.prunable_kinds()
    assert list(kinds.values()) == ["conv"] * 6 + ["fc"] * 2 + ["output"]
    assert all(model.get_parameter(n).dim() == 4 for n, k in kinds.items() if k == "conv")
    assert model(torch.zeros(2, 3, 32, 32)).shape == (2, 10)


def test_any_image_size_the_poolings_allow():
    assert get_model_spec("conv6").build((1, 28, 28), 10)(torch.zeros(1, 1, 28, 28)).shape == (1, 10)
    with pytest.raises(UsageError, match="too small"):
        get_model_spec("conv6").build((3, 4, 4), 10)


def test_dropout_only_when_asked_and_only_in_training():
    x = torch.randn(4, 3, 32, 32)
    torch.manual_seed(0)
    plain = get_model_spec("conv2").build((3, 32, 32), 10, dropout=0.0)
    dropping = get_model_spec("conv2").build((3, 32, 32), 10, dropout=0.5)
    dropping.load_state_dict(plain.state_dict())
    plain.train(), dropping.train()
    assert torch.equal(plain(x), plain(x))
    assert not torch.allclose(dropping(x), dropping(x))
    dropping.eval(), plain.eval()
    assert torch.equal(dropping(x), plain(x))


# -- presets and per-kind pruning rates ----------------------------------------------------------
def test_paper_presets():
    for name, lr, its, conv_rate in [
        ("conv2", 2e-4, 20_000, 0.10),
        ("conv4", 3e-4, 25_000, 0.10),
        ("conv6", 3e-4, 30_000, 0.15),
    ]:
        hp = get_preset(name)
        assert (hp.model.name, hp.dataset.name, hp.model.dropout) == (name, "cifar10", 0.0)
        assert (hp.training.optimizer, hp.training.lr, hp.training.batch_size, hp.training.iterations) == (
            "adam",
            lr,
            60,
            its,
        )
        assert (hp.pruning.strategy, hp.pruning.conv_rate, hp.pruning.fc_rate, hp.pruning.output_rate) == (
            "layerwise",
            conv_rate,
            0.2,
            0.1,
        )
        quick = get_preset(f"{name}-quick")
        assert quick.training.iterations < 1000 and quick.pruning == hp.pruning and quick.model == hp.model
    for name, lr, its in [("conv2", 3e-4, 60_000), ("conv4", 2e-4, 75_000), ("conv6", 2e-4, 90_000)]:
        hp = get_preset(f"{name}-dropout")
        assert (hp.model.dropout, hp.training.lr, hp.training.iterations) == (0.5, lr, its)
        assert hp.pruning == get_preset(name).pruning


def test_pruning_rates_per_kind_of_layer(tmp_path):
    data = make_splits(n_train=60, n_val=10, n_test=10, shape=(3, 8, 8))  # small fc layers: fast
    exp = Experiment(get_preset("conv6"), tmp_path, data=data)
    kinds = exp.prunable_kinds
    rate = {"conv": 0.15, "fc": 0.2, "output": 0.1}  # three different rates: a mix-up would show
    weights = exp.fresh_init(0)
    mask = exp.full_mask()
    for _ in range(2):  # the second round prunes a fraction of what is left, not of the original
        new = exp.prune(weights, mask)
        for name, keep in new.items():
            before, after = int(mask[name].sum()), int(keep.sum())
            assert before - after == round(rate[kinds[name]] * before), name
            assert not (keep & ~mask[name]).any()  # nothing revived
            survivors = weights[name].abs()[keep]
            assert survivors.min() >= weights[name].abs()[mask[name] & ~keep].max()  # smallest go first
        mask = new
    assert set(mask) == {n for n in weights if n.endswith(".weight")}  # biases are never pruned


# -- the CIFAR-10 reader -------------------------------------------------------------------------
def _int(value: int) -> bytes:
    if value < 256:
        return b"K" + bytes([value])
    if value < 65536:
        return b"M" + struct.pack("<H", value)
    return b"J" + struct.pack("<i", value)


def _py2_str(raw: bytes) -> bytes:
    return (b"U" + bytes([len(raw)]) if len(raw) < 256 else b"T" + struct.pack("<i", len(raw))) + raw


def py2_batch_pickle(data: np.ndarray, labels: list[int]) -> bytes:
    """A batch pickled the way the official files are: Python 2, protocol 2, numpy.core names, str keys."""
    dtype = (
        b"cnumpy\ndtype\n"
        + _py2_str(b"u1")
        + b"K\x00K\x01\x87R"
        + b"(K\x03"
        + _py2_str(b"|")
        + b"NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb"
    )
    array = (
        b"cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\nK\x00\x85"
        + _py2_str(b"b")
        + b"\x87R"
        + b"(K\x01"
        + _int(data.shape[0])
        + _int(data.shape[1])
        + b"\x86"
        + dtype
        + b"\x89"
        + _py2_str(data.tobytes())
        + b"tb"
    )
    label_list = b"](" + b"".join(_int(v) for v in labels) + b"e"
    return b"\x80\x02}(" + _py2_str(b"data") + array + _py2_str(b"labels") + label_list + b"u."


def make_batches(n_train_per_batch=24, n_test=20, seed=0):
    """Random images whose labels depend on the mean red value, so a net can learn something."""
    rng = np.random.default_rng(seed)
    out = {}
    for name in BATCHES:
        n = n_test if name == "test_batch" else n_train_per_batch
        labels = rng.integers(0, 10, n)
        data = rng.integers(0, 256, (n, 3072), dtype=np.uint8)
        data[:, :1024] = (labels[:, None] * 25 + rng.integers(0, 6, (n, 1024))).astype(np.uint8)
        out[name] = (data, labels.tolist())
    return out


def write_py2_folder(folder: Path, batches) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, (data, labels) in batches.items():
        (folder / name).write_bytes(py2_batch_pickle(data, labels))
    return folder


@pytest.fixture
def tiny_cifar(tmp_path):
    batches = make_batches()
    write_py2_folder(tmp_path / "cifar" / BATCH_DIR, batches)
    return tmp_path / "cifar", batches


def test_tiny_cifar_folder_loads(tiny_cifar):
    folder, batches = tiny_cifar
    raw = get_loader("cifar10")(folder, False)
    train = np.concatenate([batches[n][0] for n in BATCHES[:5]])
    assert raw.train_x.shape == (120, 3, 32, 32) and raw.train_x.dtype == torch.uint8
    assert raw.test_x.shape == (20, 3, 32, 32)
    # row = 1,024 red then green then blue values, each plane row-major
    first = train[7]
    assert raw.train_x[7, 0, 0, 1] == first[1] and raw.train_x[7, 1, 2, 3] == first[1024 + 2 * 32 + 3]
    assert raw.train_x[7, 2, 31, 31] == first[3071]
    assert raw.train_y.tolist() == [y for n in BATCHES[:5] for y in batches[n][1]]
    assert raw.test_y.tolist() == batches["test_batch"][1]
    assert (raw.num_classes, raw.validation_size) == (10, 5000)

    splits = load_splits("cifar10", folder, validation_size=20)
    assert (len(splits.train_y), len(splits.val_y), len(splits.test_y)) == (100, 20, 20)
    assert splits.input_shape == (3, 32, 32)
    mean = splits.train_x.mean(dim=(0, 2, 3))  # per-channel normalization from the training part
    std = splits.train_x.std(dim=(0, 2, 3))
    assert torch.allclose(mean, torch.zeros(3), atol=1e-4) and torch.allclose(std, torch.ones(3), atol=1e-3)


def test_batch_files_directly_in_folder_python3_pickles(tmp_path):
    batches = make_batches(n_train_per_batch=4, n_test=3)
    for name, (data, labels) in batches.items():
        with open(tmp_path / name, "wb") as f:
            pickle.dump({b"batch_label": name.encode(), b"labels": labels, b"data": data}, f, protocol=4)
    raw = get_loader("cifar10")(tmp_path, False)
    assert raw.train_x.shape == (20, 3, 32, 32) and raw.test_y.tolist() == batches["test_batch"][1]


def _refusal(folder) -> str:
    with pytest.raises(LotteryError) as info:
        get_loader("cifar10")(folder, False)
    return str(info.value)


def test_truncated_batch_refused_naming_the_file(tiny_cifar):
    folder, _ = tiny_cifar
    path = folder / BATCH_DIR / "data_batch_3"
    path.write_bytes(path.read_bytes()[:5000])
    message = _refusal(folder)
    assert "data_batch_3" in message and "truncated" in message and "\n" not in message


def test_missing_batch_refused_naming_the_file(tiny_cifar):
    folder, _ = tiny_cifar
    (folder / BATCH_DIR / "test_batch").unlink()
    assert "test_batch" in _refusal(folder)


def test_bad_labels_refused(tmp_path):
    batches = make_batches(n_train_per_batch=4, n_test=3)
    batches["data_batch_2"] = (batches["data_batch_2"][0], [0, 1, 10, 2])
    write_py2_folder(tmp_path, batches)
    message = _refusal(tmp_path)
    assert "data_batch_2" in message and "labels" in message


class _Evil:
    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


def test_unpickling_runs_no_code(tmp_path):
    write_py2_folder(tmp_path, make_batches(n_train_per_batch=4, n_test=3))
    victim = tmp_path / "created-by-pickle"
    (tmp_path / "data_batch_1").write_bytes(pickle.dumps({b"data": _Evil(str(victim)), b"labels": []}))
    message = _refusal(tmp_path)
    assert "data_batch_1" in message and "open" in message
    assert not victim.exists()


def test_official_size_batch_must_match_official_md5(tmp_path):
    batches = make_batches(n_train_per_batch=4, n_test=3)
    batches["data_batch_1"] = (np.zeros((10_000, 3072), np.uint8), [0] * 10_000)
    write_py2_folder(tmp_path, batches)
    message = _refusal(tmp_path)
    assert "data_batch_1" in message and "md5" in message


def _tar_gz(path: Path, batches) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for name, (data, labels) in batches.items():
            raw = py2_batch_pickle(data, labels)
            info = tarfile.TarInfo(f"{BATCH_DIR}/{name}")
            info.size = len(raw)
            tar.addfile(info, io.BytesIO(raw))
    return path


def test_archive_is_read_in_memory_and_checksummed(tmp_path):
    batches = make_batches(n_train_per_batch=4, n_test=3)
    archive = _tar_gz(tmp_path / ARCHIVE, batches)
    parsed = read_archive(archive)
    assert np.array_equal(parsed["data_batch_4"][0].reshape(4, 3072), batches["data_batch_4"][0])
    assert not (tmp_path / BATCH_DIR).exists()  # nothing extracted
    # Through the data set, an archive that is not the official one is refused by its sha256.
    message = _refusal(tmp_path)
    assert ARCHIVE in message and "sha256" in message
    whole = archive.read_bytes()
    for damaged in (whole[: len(whole) // 2], gzip.compress(b"not a tar")):
        archive.write_bytes(damaged)
        with pytest.raises(LotteryError, match="cannot read CIFAR-10 archive"):
            read_archive(archive)


def test_download_verifies_the_archive_before_reading_it(tmp_path, monkeypatch):
    """--download through a file:// mirror standing in for the official site."""
    from lottery.data import cifar
    from lottery.data.files import sha256_of

    site = tmp_path / "site"
    site.mkdir()
    archive = _tar_gz(site / ARCHIVE, make_batches(n_train_per_batch=4, n_test=3))
    monkeypatch.setattr(cifar, "MIRRORS", [site.as_uri() + "/"])
    monkeypatch.setattr(cifar, "ARCHIVE_SHA256", "0" * 64)
    target = tmp_path / "data"
    with pytest.raises(LotteryError, match="checksum mismatch"):
        get_loader("cifar10")(target, True)
    assert not (target / ARCHIVE).exists()  # a failed download leaves nothing behind
    monkeypatch.setattr(cifar, "ARCHIVE_SHA256", sha256_of(archive))
    raw = get_loader("cifar10")(target, True)
    assert (target / ARCHIVE).exists() and raw.train_x.shape == (20, 3, 32, 32)


def test_empty_folder_says_what_to_do(tmp_path):
    message = _refusal(tmp_path)
    assert ARCHIVE in message and BATCH_DIR in message and "--download" in message


# -- end to end ----------------------------------------------------------------------------------
@pytest.mark.slow
def test_imp_level_on_tiny_conv_run(tmp_path, capsys):
    folder = write_py2_folder(tmp_path / "cifar", make_batches(n_train_per_batch=12, n_test=10))
    out = tmp_path / "runs"
    argv = [
        "run",
        "--preset",
        "conv2-quick",
        "--data-dir",
        str(folder),
        "--validation-size",
        "10",
        "--iterations",
        "4",
        "--eval-every",
        "2",
        "--batch-size",
        "10",
        "--levels",
        "1",
        "--out",
        str(out),
        "--no-progress",
    ]
    assert main(argv) == 0
    experiment = next(out.iterdir())
    info = load_json(experiment / "hparams.json")
    assert info["hparams"]["model"]["name"] == "conv2" and info["hparams"]["dataset"]["name"] == "cifar10"
    level = experiment / "trial_0" / "ticket" / "level_1"
    metrics = load_json(level / "metrics.json")
    expected = {
        "conv.0.weight": 0.9,
        "conv.1.weight": 0.9,
        "fc.0.weight": 0.8,
        "fc.1.weight": 0.8,
        "output.weight": 0.9,
    }
    for name, kept in metrics["layer_density"].items():
        assert kept == pytest.approx(expected[name], abs=1e-3), name
    assert metrics["summary"]["early_stop_iteration"] in (0, 2, 4)
    mask, final = load_tensors(level / "mask.pt"), load_tensors(level / "final.pt")
    init = load_tensors(experiment / "trial_0" / "init.pt")
    for name, keep in mask.items():
        assert (final[name][~keep] == 0).all() and not torch.equal(final[name][keep], init[name][keep])
    assert "conv2" in capsys.readouterr().out


# -- Figure 5 ------------------------------------------------------------------------------------
def _fake_experiment(root: Path, model: str, dropout: float, points) -> Path:
    """An experiment folder with hand-written metrics: (branch, trial, level, density, es_it, acc)."""
    folder = root / f"{model}-{dropout}"
    save_json(
        folder / "hparams.json",
        {
            "format_version": 1,
            "name": folder.name,
            "non_default": {},
            "hparams": {"model": {"name": model, "dropout": dropout}},
        },
    )
    for branch, trial, level, density, es, acc in points:
        summary = {
            "early_stop_iteration": es,
            "val_loss_at_early_stop": 1.0,
            "test_acc_at_early_stop": acc,
            "train_acc_at_early_stop": acc,
            "val_acc_at_early_stop": acc,
            "test_acc_final": acc,
            "val_loss_final": 1.0,
            "train_acc_final": acc + 0.1,
        }
        record = {"trial": trial, "branch": branch, "level": level, "density": density, "summary": summary}
        record.update(layer_density={"fc.weight": density}, curve={}, seeds={"trial_seed": trial})
        save_json(folder / f"trial_{trial}" / branch / f"level_{level}" / "metrics.json", record)
    return folder


def test_figure5_one_line_per_net(tmp_path):
    conv2 = _fake_experiment(
        tmp_path,
        "conv2",
        0.0,
        [
            ("ticket", 0, 0, 1.0, 900, 0.60),
            ("ticket", 1, 0, 1.0, 1100, 0.62),
            ("ticket", 0, 1, 0.5, 700, 0.65),
            ("ticket", 1, 1, 0.5, 500, 0.66),
            ("reinit_0", 0, 1, 0.5, 1200, 0.55),
            ("reinit_1", 0, 1, 0.5, 1400, 0.53),
            ("reinit-iterations3000_0", 0, 1, 0.5, 2100, 0.57),  # the control at a budget of its own
            ("reinit-iterations6000_0", 0, 1, 0.5, 2300, 0.57),  # ... and at a longer one
        ],
    )
    conv4 = _fake_experiment(
        tmp_path, "conv4", 0.5, [("ticket", 0, 0, 1.0, 2000, 0.7), ("ticket", 0, 1, 0.4, 1500, 0.75)]
    )
    series = compare_series([conv2, conv4])
    assert [(s.label, s.branch) for s in series] == [
        ("conv2", "ticket"),
        ("conv2", "reinit"),
        ("conv2", "reinit-iterations3000"),
        ("conv2", "reinit-iterations6000"),
        ("conv4 dropout 0.5", "ticket"),
    ]
    styles = series_styles(series)
    assert len(set(styles[:4])) == 4  # every line of a net is told apart in the legend
    assert styles[4] == styles[0]  # another net: the same styles in its own color
    ticket, reinit, longer, _, _ = series
    assert [st.mean for st in longer.stats["early_stop_iteration"]] == [1000, 2100]
    assert ticket.density == [1.0, 0.5]
    assert [st.mean for st in ticket.stats["early_stop_iteration"]] == [1000, 600]
    assert [(st.low, st.high) for st in ticket.stats["test_acc_at_early_stop"]] == [(0.60, 0.62), (0.65, 0.66)]
    assert reinit.density == [1.0, 0.5]  # the control starts from the shared dense network
    assert [st.mean for st in reinit.stats["early_stop_iteration"]] == [1000, 1300]
    path = figure5([conv2, conv4], tmp_path / "fig5.png", title="Figure 5")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert main(["compare", str(conv2), str(conv4), "--out", str(tmp_path / "cli.png")]) == 0
    assert (tmp_path / "cli.png").stat().st_size > 1000


def test_compare_refuses_folder_without_results(tmp_path, capsys):
    empty = _fake_experiment(tmp_path, "conv2", 0.0, [])
    assert main(["compare", str(empty), "--out", str(tmp_path / "x.png")]) == 1
    assert "no finished levels" in capsys.readouterr().err
