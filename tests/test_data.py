import gzip
import hashlib
import json
import os
import tempfile
from pathlib import Path

import numpy as np
import pytest
import torch

from lottery.data import BatchStream, load_splits
from lottery.data.files import fetch
from lottery.data.idx import read_idx, write_idx
from lottery.data.mnist import FASHION_SHA256, MNIST_SHA256, load_idx_folder
from lottery.errors import LotteryError


def test_idx_round_trip_on_generated_file(tmp_path):
    images = np.arange(3 * 4 * 5, dtype=np.uint8).reshape(3, 4, 5)
    write_idx(tmp_path / "x-idx3-ubyte.gz", images)
    np.testing.assert_array_equal(read_idx(tmp_path / "x-idx3-ubyte.gz"), images)
    # Hand-built header: magic 0x00000801, 4 labels.
    raw = bytes([0, 0, 8, 1, 0, 0, 0, 4, 7, 1, 2, 9])
    (tmp_path / "y-idx1-ubyte.gz").write_bytes(gzip.compress(raw))
    np.testing.assert_array_equal(read_idx(tmp_path / "y-idx1-ubyte.gz"), [7, 1, 2, 9])


def test_idx_rejects_truncated_and_bad_magic(tmp_path):
    raw = bytes([0, 0, 8, 1, 0, 0, 0, 4, 7, 1])
    (tmp_path / "short.gz").write_bytes(gzip.compress(raw))
    with pytest.raises(LotteryError, match="truncated"):
        read_idx(tmp_path / "short.gz")
    (tmp_path / "junk.gz").write_bytes(gzip.compress(b"hello world"))
    with pytest.raises(LotteryError, match="magic"):
        read_idx(tmp_path / "junk.gz")


def test_checksum_mismatch_is_refused_with_file_and_expected_sum(tmp_path):
    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(b"not the real file")
    expected = MNIST_SHA256[path.name]
    with pytest.raises(LotteryError) as info:
        fetch(tmp_path, path.name, expected, mirrors=[], download=False)
    message = str(info.value)
    assert str(path) in message and expected in message
    assert path.read_bytes() == b"not the real file"  # never silently replaced or deleted


def test_missing_file_names_it_and_suggests_download(tmp_path):
    with pytest.raises(LotteryError, match=r"missing data file .*train-images-idx3-ubyte.gz.*--download"):
        load_idx_folder(tmp_path, MNIST_SHA256, [], download=False)


def test_fetch_accepts_a_file_with_the_right_checksum(tmp_path):
    path = tmp_path / "f.bin"
    path.write_bytes(b"payload")
    assert fetch(tmp_path, "f.bin", hashlib.sha256(b"payload").hexdigest(), [], False) == path


def test_digits_default_needs_no_download_and_holds_out_validation():
    splits = load_splits("digits")
    assert splits.input_shape == (1, 28, 28)
    assert (len(splits.train_y), len(splits.val_y), len(splits.test_y)) == (1200, 300, 297)
    # Standardized with training statistics.
    assert abs(splits.train_x.mean().item()) < 1e-3 and abs(splits.train_x.std().item() - 1) < 1e-2


def test_validation_split_is_seeded_and_disjoint():
    a, b = load_splits("digits", split_seed=0), load_splits("digits", split_seed=0)
    c = load_splits("digits", split_seed=1)
    assert torch.equal(a.val_x, b.val_x) and not torch.equal(a.val_x, c.val_x)
    train_rows = {tuple(r.tolist()) for r in a.train_x.flatten(1)}
    assert not any(tuple(r.tolist()) in train_rows for r in a.val_x.flatten(1)[:50])


def test_batch_stream_is_a_function_of_seed_and_iteration():
    x, y = torch.arange(100).float().unsqueeze(1), torch.arange(100)
    s1, s2 = BatchStream(x, y, 30, seed=5), BatchStream(x, y, 30, seed=5)
    assert s1.steps_per_epoch == 3
    epoch0 = torch.cat([s1.batch(i)[1] for i in range(3)])
    assert len(set(epoch0.tolist())) == 90  # no repeats within an epoch
    assert torch.equal(s2.batch(4)[1], s1.batch(4)[1])  # random access == sequential
    assert not torch.equal(s1.batch(0)[1], s1.batch(3)[1])  # reshuffled each epoch


@pytest.mark.slow
def test_real_fashion_mnist_loads(fashion_dir):
    splits = load_splits("fashion-mnist", fashion_dir)
    assert (len(splits.train_y), len(splits.val_y), len(splits.test_y)) == (55000, 5000, 10000)
    assert set(splits.test_y.unique().tolist()) == set(range(10))
    assert sorted(FASHION_SHA256) == sorted(MNIST_SHA256)


# --- image folders, CIFAR-10 (JPEG copy) and the decoded-data cache ---

import io  # noqa: E402
import tarfile  # noqa: E402

from PIL import Image  # noqa: E402

from lottery.data import cache, cifar_jpeg, imagefolder  # noqa: E402
from lottery.data.registry import get_loader  # noqa: E402
from lottery.errors import UsageError  # noqa: E402

from conftest import FullDisk, SHARED_DATA  # noqa: E402

CLASSES = {"dog": 5, "ant": 4, "cat": 3}  # train images per class; written out of name order on purpose


def _image_bytes(class_index: int, i: int, fmt: str) -> bytes:
    """A 6x5 image whose pixels encode its class (red) and number (green), so a decoded array names its file."""
    pixels = np.zeros((5, 6, 3), np.uint8)
    pixels[..., 0], pixels[..., 1], pixels[..., 2] = 40 * class_index + 20, 10 * i + 5, 128
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format=fmt, **({"quality": 100} if fmt == "JPEG" else {}))
    return buffer.getvalue()


def _image_files(extra: dict[str, bytes] | None = None) -> dict[str, bytes]:
    files = {}
    for split, scale in (("train", 1), ("test", 0.5)):
        for name in CLASSES:
            index = sorted(CLASSES).index(name)
            for i in range(max(1, int(CLASSES[name] * scale))):
                fmt, suffix = ("PNG", "png") if i % 2 else ("JPEG", "jpg")
                files[f"{split}/{name}/{i:04d}.{suffix}"] = _image_bytes(index, i, fmt)
    return {**files, "README.md": b"not an image", **(extra or {})}


def _write_tar(path, files: dict[str, bytes], order=None):
    with tarfile.open(path, "w") as tar:
        for name in order or files:
            info = tarfile.TarInfo(name)
            info.size = len(files[name])
            tar.addfile(info, io.BytesIO(files[name]))
    return path


def _assert_labels_match_pixels(x, y):
    red = x[:, 0, 0, 0].long()
    assert torch.equal(torch.div(red - 20 + 10, 40, rounding_mode="floor"), y)


def test_image_tar_labels_classes_by_sorted_name_and_decodes_png_and_jpeg(tmp_path):
    images = imagefolder.read_image_folder(_write_tar(tmp_path / "images.tar", _image_files()))
    assert images.classes == ["ant", "cat", "dog"]
    assert images.train_x.shape == (12, 3, 5, 6) and images.train_x.dtype == torch.uint8
    assert torch.bincount(images.train_y).tolist() == [4, 3, 5]
    assert torch.bincount(images.test_y).tolist() == [2, 1, 2]
    _assert_labels_match_pixels(images.train_x, images.train_y)
    _assert_labels_match_pixels(images.test_x, images.test_y)
    png = images.train_x[images.train_x[:, 1, 0, 0] == 15]  # image 0001 of each class, a lossless PNG
    assert len(png) == 3 and (png[:, 2] == 128).all()


def test_image_order_is_seeded_not_class_sorted_and_independent_of_file_order(tmp_path):
    files = _image_files()
    a = imagefolder.read_image_folder(_write_tar(tmp_path / "a.tar", files))
    b = imagefolder.read_image_folder(_write_tar(tmp_path / "b.tar", files, order=sorted(files, reverse=True)))
    assert torch.equal(a.train_x, b.train_x) and torch.equal(a.train_y, b.train_y)
    assert torch.equal(a.test_y, b.test_y)
    assert not torch.equal(a.train_y, a.train_y.sort().values)  # shuffled, not sorted by class
    folder = tmp_path / "folder"
    for name, raw in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(raw)
    c = imagefolder.read_image_folder(folder)
    assert torch.equal(a.train_x, c.train_x) and torch.equal(a.test_y, c.test_y)


@pytest.mark.parametrize(
    "extra, drop, expected",
    [
        ({"train/stray.png": b"x"}, None, "unexpected file train/stray.png"),
        ({"test/cat/notes.txt": b"x"}, None, "unexpected file test/cat/notes.txt"),
        ({"test/emu/0000.png": _image_bytes(0, 0, "PNG")}, None, "different class folders"),
        (None, "test/", "no test images"),
        ({"train/ant/broken.jpg": b"not a jpeg"}, None, "cannot decode image train/ant/broken.jpg"),
    ],
)
def test_bad_image_layout_is_a_one_line_error(tmp_path, extra, drop, expected):
    files = {k: v for k, v in _image_files(extra).items() if not (drop and k.startswith(drop))}
    with pytest.raises(LotteryError, match=expected) as info:
        imagefolder.read_image_folder(_write_tar(tmp_path / "bad.tar", files))
    assert "\n" not in str(info.value)


def test_images_of_different_sizes_are_refused(tmp_path):
    buffer = io.BytesIO()
    Image.new("RGB", (7, 7)).save(buffer, format="PNG")
    with pytest.raises(LotteryError, match="all images must have one size"):
        imagefolder.read_image_folder(
            _write_tar(tmp_path / "x.tar", _image_files({"train/ant/9999.png": buffer.getvalue()}))
        )


def test_known_tar_name_with_wrong_checksum_is_refused(tmp_path):
    _write_tar(tmp_path / cifar_jpeg.KNOWN_TAR, _image_files())
    with pytest.raises(LotteryError) as info:
        get_loader("cifar10-jpeg")(tmp_path, False)
    message = str(info.value)
    assert "sha256" in message and cifar_jpeg.KNOWN_TAR_SHA256 in message and "\n" not in message


def test_cifar10_jpeg_reads_any_tar_or_folder_and_explains_a_missing_one(tmp_path):
    tar = _write_tar(tmp_path / "mine.tar", _image_files())
    splits = load_splits("cifar10-jpeg", tar, validation_size=3)
    assert (len(splits.train_y), len(splits.val_y), len(splits.test_y)) == (9, 3, 5)
    assert splits.num_classes == 3 and splits.input_shape == (3, 5, 6)
    assert splits.train_x.mean(dim=(0, 2, 3)).abs().max() < 1e-4  # standardised per channel
    (tmp_path / "empty").mkdir()
    with pytest.raises(LotteryError, match=r"no CIFAR-10 \(JPEG copy\) data in .*cannot be downloaded"):
        get_loader("cifar10-jpeg")(tmp_path / "empty", True)
    with pytest.raises(UsageError, match="validation size 5000"):  # the default split needs the real data
        load_splits("cifar10-jpeg", tar)


def test_second_load_comes_from_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("LOTTERY_CACHE", str(tmp_path / "cache"))
    tar = _write_tar(tmp_path / "mine.tar", _image_files())
    first = get_loader("cifar10-jpeg")(tar, False)
    monkeypatch.setattr(cifar_jpeg, "read_image_folder", lambda *_: pytest.fail("decoded again"))
    second = get_loader("cifar10-jpeg")(tar, False)
    assert torch.equal(first.train_x, second.train_x) and torch.equal(first.test_y, second.test_y)
    assert len(list((tmp_path / "cache" / "decoded").glob("cifar10-jpeg-*.pt"))) == 1


@pytest.mark.parametrize("damage", ["flip", "truncate", "junk"])
def test_damaged_cache_file_is_ignored_and_rewritten(tmp_path, monkeypatch, damage):
    monkeypatch.setenv("LOTTERY_CACHE", str(tmp_path / "cache"))
    tar = _write_tar(tmp_path / "mine.tar", _image_files())
    first = get_loader("cifar10-jpeg")(tar, False)
    [path] = (tmp_path / "cache" / "decoded").glob("*.pt")
    good = path.read_bytes()
    damaged = {
        "flip": lambda b: b[: len(b) // 2] + bytes([b[len(b) // 2] ^ 0xFF]) + b[len(b) // 2 + 1 :],
        "truncate": lambda b: b[: len(b) // 2],
        "junk": lambda b: b"junk",
    }[damage](good)
    path.write_bytes(damaged)
    again = get_loader("cifar10-jpeg")(tar, False)
    assert torch.equal(first.train_x, again.train_x) and torch.equal(first.train_y, again.train_y)
    assert cache._from_file(torch.load(path, weights_only=True)) is not None  # rewritten whole


def test_cache_is_keyed_by_content(tmp_path, monkeypatch):
    monkeypatch.setenv("LOTTERY_CACHE", str(tmp_path / "cache"))
    files = _image_files()
    tar = _write_tar(tmp_path / "mine.tar", files)
    first = get_loader("cifar10-jpeg")(tar, False)
    files["train/ant/0001.png"] = _image_bytes(0, 20, "PNG")  # same name, new pixels
    _write_tar(tar, files)
    second = get_loader("cifar10-jpeg")(tar, False)
    assert not torch.equal(first.train_x, second.train_x)
    assert (second.train_x[:, 1, 0, 0] == 205).sum() == 1
    assert len(list((tmp_path / "cache" / "decoded").glob("*.pt"))) == 2


def _write_folder(folder, files: dict[str, bytes]):
    for name, raw in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(raw)
    return folder


def _fill_disk_under(monkeypatch, folder):
    """Files created (atomically, through a temp file) under ``folder`` fail to write as on a full disk."""
    real_mkstemp, real_fdopen, full = tempfile.mkstemp, os.fdopen, set()

    def mkstemp(*args, **kwargs):
        fd, name = real_mkstemp(*args, **kwargs)
        if Path(name).is_relative_to(folder):
            full.add(fd)
        return fd, name

    def fdopen(fd, *args, **kwargs):
        f = real_fdopen(fd, *args, **kwargs)
        if fd not in full:
            return f
        full.discard(fd)  # the number is reused by the next file opened
        return FullDisk(f)

    monkeypatch.setattr(tempfile, "mkstemp", mkstemp)
    monkeypatch.setattr(os, "fdopen", fdopen)


def test_a_full_cache_disk_costs_time_not_the_run(tmp_path, monkeypatch, capsys):
    from lottery.cli import main

    monkeypatch.setenv("LOTTERY_CACHE", str(tmp_path / "cache"))
    _fill_disk_under(monkeypatch, tmp_path / "cache")
    images = _write_folder(tmp_path / "images", _image_files())
    data = ["--dataset", "cifar10-jpeg", "--data-dir", str(images), "--validation-size", "3", "--batch-size", "3"]
    assert main(_tiny_run(data, tmp_path / "out")) == 0
    err = capsys.readouterr().err
    assert err.count("lottery: ") == 1 and "cannot write data cache" in err and "no space left" in err
    assert len(list((tmp_path / "out").glob("*/trial_0/ticket/level_1/metrics.json"))) == 1
    assert not [p for p in (tmp_path / "cache").rglob("*") if p.is_file() and not p.name.endswith(".lock")]


def _tiny_run(data: list[str], out, levels: int = 1) -> list[str]:
    """A lottery run of 4 iterations a level on ``data`` (data set flags)."""
    argv = ["run", "--preset", "lenet-digits", "--iterations", "4", "--eval-every", "2", "--levels", str(levels)]
    return argv + data + ["--no-progress", "--out", str(out)]


def _jpeg(data_dir) -> list[str]:
    """Data set flags for a tiny image folder or tar from :func:`_image_files`."""
    return ["--dataset", "cifar10-jpeg", "--data-dir", str(data_dir), "--validation-size", "3", "--batch-size", "3"]


def _instability(folder, data_dir, out) -> list[str]:
    return ["instability", str(folder), "--level", "1", "--points", "2", "--data-dir", str(data_dir)] + [
        "--no-progress",
        "--out",
        str(out),
    ]


def test_run_and_instability_agree_on_what_data_dir_may_name(tmp_path, capsys):
    from lottery.cli import main

    tar = _write_tar(tmp_path / "images.tar", _image_files())
    jpeg = ["--dataset", "cifar10-jpeg", "--data-dir", str(tar), "--validation-size", "3", "--batch-size", "3"]
    assert main(_tiny_run(jpeg, tmp_path / "jpeg")) == 0  # a tar of images: read by both commands
    [folder] = (tmp_path / "jpeg").iterdir()
    assert main(_instability(folder, tar, tmp_path / "jpeg-instability")) == 0
    assert main(_tiny_run([], tmp_path / "digits")) == 0
    capsys.readouterr()
    [folder] = (tmp_path / "digits").iterdir()
    refusals = []  # a file where the data set reads a folder: refused by both, in the same words
    for argv in (_tiny_run(["--data-dir", str(tar)], tmp_path / "digits"), _instability(folder, tar, tmp_path / "i")):
        assert main(argv) == 2
        refusals.append(capsys.readouterr().err)
    assert (
        refusals[0]
        == refusals[1]
        == f"lottery: error: --data-dir {tar} is a file, not a folder (digits reads its files from a folder)\n"
    )


def test_an_experiment_is_extended_and_analysed_only_with_the_data_it_was_made_from(tmp_path, capsys):
    from lottery.cli import main

    files = _image_files()
    a, a_tar = _write_folder(tmp_path / "a", files), _write_tar(tmp_path / "a.tar", files)  # the same images
    b = _write_folder(tmp_path / "b", {**files, "test/cat/0000.jpg": _image_bytes(0, 9, "JPEG")})  # one differs
    out = tmp_path / "out"
    assert main(_tiny_run(_jpeg(a), out, levels=1)) == 0
    [folder] = out.iterdir()
    hparams_file = folder / "hparams.json"
    stored = json.loads(hparams_file.read_text())
    record = {"train": 9, "validation": 3, "test": 5, "classes": 3, "image_files_sha256": imagefolder.folder_digest(a)}
    assert stored["data"] == record and "data" not in stored["hparams"] and stored["name"] == folder.name
    capsys.readouterr()

    assert main(_tiny_run(_jpeg(b), out, levels=2)) == 1  # same sizes, other images: refused, nothing written
    err = capsys.readouterr().err
    assert "made from other data: image files sha256" in err and len(err.strip().splitlines()) == 1
    assert not (folder / "trial_0" / "ticket" / "level_2").exists()
    assert json.loads(hparams_file.read_text()) == stored
    assert main(_instability(folder, b, tmp_path / "instability")) == 1
    assert "made from other data: image files sha256" in capsys.readouterr().err

    assert main(_tiny_run(_jpeg(a_tar), out, levels=2)) == 0  # the same images from a tar: the same data
    assert (folder / "trial_0" / "ticket" / "level_2" / "metrics.json").exists()

    del stored["data"]  # a folder written before data records: extended, and the run's data recorded
    hparams_file.write_text(json.dumps(stored))
    assert main(_tiny_run(_jpeg(a), out, levels=3)) == 0
    assert json.loads(hparams_file.read_text())["data"] == record
    capsys.readouterr()
    assert main(_tiny_run(_jpeg(b), out, levels=4)) == 1


def test_a_data_record_names_what_differs():
    from lottery.experiments.data_record import check_data_record

    stored = {"data": {"train": 45000, "validation": 5000, "test": 10000, "classes": 10}}
    check_data_record({}, stored["data"], Path("x/hparams.json"), "advice")  # no record: accepted
    check_data_record(stored, dict(stored["data"]), Path("x/hparams.json"), "advice")
    with pytest.raises(LotteryError) as info:
        check_data_record(stored, {**stored["data"], "test": 100}, Path("x/hparams.json"), "advice")
    assert str(info.value) == "x was made from other data: test 10000 (this data: 100); advice"


def test_idx_data_sets_are_cached_after_verification_and_cache_can_be_off(tmp_path, monkeypatch):
    from lottery.data import mnist

    monkeypatch.setenv("LOTTERY_CACHE", str(tmp_path / "cache"))
    arrays = [
        np.full((3, 2, 2), 7, np.uint8),
        np.array([1, 2, 3], np.uint8),
        np.full((2, 2, 2), 9, np.uint8),
        np.array([4, 5], np.uint8),
    ]
    for name, a in zip(mnist._FILES, arrays, strict=True):
        write_idx(tmp_path / name, a)
    sums = {name: hashlib.sha256((tmp_path / name).read_bytes()).hexdigest() for name in mnist._FILES}
    first = load_idx_folder(tmp_path, sums, [], False)
    monkeypatch.setattr(mnist, "read_idx", lambda *_: pytest.fail("decoded again"))
    assert torch.equal(load_idx_folder(tmp_path, sums, [], False).train_y, first.train_y)
    monkeypatch.setenv("LOTTERY_CACHE", "off")
    with pytest.raises(pytest.fail.Exception, match="decoded again"):
        load_idx_folder(tmp_path, sums, [], False)
    (tmp_path / mnist._FILES[0]).write_bytes(b"changed")  # the files are still verified on a cache hit
    monkeypatch.setenv("LOTTERY_CACHE", str(tmp_path / "cache"))
    with pytest.raises(LotteryError, match="sha256"):
        load_idx_folder(tmp_path, sums, [], False)


def test_preset_conv2_runs_on_the_jpeg_copy(tmp_path):
    from lottery.cli import build_parser, hparams_from_args

    hp = hparams_from_args(
        build_parser().parse_args(
            ["run", "--preset", "conv2", "--dataset", "cifar10-jpeg", "--data-dir", str(tmp_path)]
        )
    )
    assert hp.dataset.name == "cifar10-jpeg" and hp.model.name == "conv2" and hp.training.lr == 2e-4


def _real_tar():
    tar = SHARED_DATA / "cifar10-jpeg" / cifar_jpeg.KNOWN_TAR
    if not tar.exists():
        pytest.skip(f"the CIFAR-10 JPEG copy is not found under {tar.parent}")
    return tar


@pytest.mark.slow
def test_real_jpeg_tar_layout_counts_and_class_balance():
    with tarfile.open(_real_tar()) as tar:
        found = imagefolder._images_by_split(imagefolder._tar_source(tar, _real_tar()))
    for split, per_class in (("train", 5000), ("test", 1000)):
        classes = [c for _, c in found[split]]
        assert len(classes) == 10 * per_class
        assert {c: classes.count(c) for c in set(classes)} == {
            c: per_class
            for c in ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
        }


@pytest.mark.slow
def test_real_jpeg_tar_decodes_to_the_published_statistics():
    raw = get_loader("cifar10-jpeg")(_real_tar().parent, False)
    assert raw.train_x.shape == (50000, 3, 32, 32) and raw.test_x.shape == (10000, 3, 32, 32)
    assert torch.bincount(raw.train_y).tolist() == [5000] * 10 and torch.bincount(raw.test_y).tolist() == [1000] * 10
    mean = raw.train_x.float().mean(dim=(0, 2, 3)) / 255  # published for this copy: 0.49125, 0.48209, 0.44652
    assert torch.allclose(mean, torch.tensor([0.49125, 0.48209, 0.44652]), atol=2e-4)


def test_download_replaces_a_corrupt_file_with_a_verified_copy(tmp_path):
    mirror, folder = tmp_path / "mirror", tmp_path / "data"
    mirror.mkdir()
    folder.mkdir()
    (mirror / "f.bin").write_bytes(b"the real payload")
    expected = hashlib.sha256(b"the real payload").hexdigest()
    (folder / "f.bin").write_bytes(b"the real pay")  # truncated
    with pytest.raises(LotteryError, match=r"corrupt.*pass --download to replace it"):
        fetch(folder, "f.bin", expected, [mirror.as_uri()], download=False)
    assert fetch(folder, "f.bin", expected, [mirror.as_uri()], download=True) == folder / "f.bin"
    assert (folder / "f.bin").read_bytes() == b"the real payload"
    assert [p.name for p in folder.iterdir()] == ["f.bin"]  # no partial download left


def test_a_corrupt_file_stays_until_a_download_passes_the_checksum(tmp_path):
    mirror, folder = tmp_path / "mirror", tmp_path / "data"
    mirror.mkdir()
    folder.mkdir()
    (mirror / "f.bin").write_bytes(b"also wrong")
    (folder / "f.bin").write_bytes(b"wrong")
    with pytest.raises(LotteryError, match=r"could not download f.bin: .*checksum mismatch"):
        fetch(folder, "f.bin", hashlib.sha256(b"right").hexdigest(), [mirror.as_uri()], download=True)
    assert (folder / "f.bin").read_bytes() == b"wrong" and [p.name for p in folder.iterdir()] == ["f.bin"]
