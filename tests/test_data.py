import gzip
import hashlib

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
    with pytest.raises(LotteryError, match="missing data file .*train-images-idx3-ubyte.gz.*--download"):
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


def test_real_fashion_mnist_loads(fashion_dir):
    splits = load_splits("fashion-mnist", fashion_dir)
    assert (len(splits.train_y), len(splits.val_y), len(splits.test_y)) == (55000, 5000, 10000)
    assert set(splits.test_y.unique().tolist()) == set(range(10))
    assert sorted(FASHION_SHA256) == sorted(MNIST_SHA256)


def test_download_replaces_a_corrupt_file_with_a_verified_copy(tmp_path):
    mirror, folder = tmp_path / "mirror", tmp_path / "data"
    mirror.mkdir()
    folder.mkdir()
    (mirror / "f.bin").write_bytes(b"the real payload")
    expected = hashlib.sha256(b"the real payload").hexdigest()
    (folder / "f.bin").write_bytes(b"the real pay")  # truncated
    with pytest.raises(LotteryError, match="corrupt.*pass --download to replace it"):
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
    with pytest.raises(LotteryError, match="could not download f.bin: .*checksum mismatch"):
        fetch(folder, "f.bin", hashlib.sha256(b"right").hexdigest(), [mirror.as_uri()], download=True)
    assert (folder / "f.bin").read_bytes() == b"wrong" and [p.name for p in folder.iterdir()] == ["f.bin"]
