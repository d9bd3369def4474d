"""Plain data in one blob: numbers, strings, lists, mappings and NumPy arrays, never pickles.

Why it exists: the course moves values across a trust boundary in three places: the visible
cases stored with the package (made by the grading side's build, read in a learner's kernel),
the inputs the grader sends to the kernel that re-checks a submission, and what that kernel
sends back. All three use this one format, so there is one encoder and one decoder to get
right. A blob is an uncompressed ``.npz`` archive: the arrays, plus one entry holding a JSON
description of the value that names them. Reading a blob checks its size, the kinds and
shapes of its arrays and the depth and length of its structure *before* anything is decoded,
and counts what it decodes (an array once per reference to it, since each reference becomes
its own copy), so a hostile blob cannot make the reader allocate, recurse or unpickle without
bound.

Nothing here imports TensorFlow, prints or writes files.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

#: The archive entry that holds the JSON description.
_JSON_KEY = "__value__"


class PlainDataError(ValueError):
    """A blob that is not plain data within the limits (the message says what)."""


@dataclass(frozen=True)
class Limits:
    """What a reader accepts; anything beyond it is refused, not truncated."""

    max_bytes: int = 64 * 2**20
    """Largest blob, and most bytes of arrays it decodes to, in bytes: an array counts once
    for every reference to it (each reference is its own copy). Strings need no count: each
    is written out in the description, so they decode to no more than the blob holds."""
    max_depth: int = 16
    """Deepest nesting of mappings, lists and tuples."""
    max_items: int = 100_000
    """Most values in the whole structure (every list item counts)."""
    max_string: int = 10_000
    """Longest string, in characters."""
    max_ndim: int = 8
    """Most dimensions of an array."""


#: Kinds of array a blob may hold: booleans and real or complex numbers.
_ARRAY_KINDS = "biufc"


@dataclass(frozen=True)
class Opaque:
    """Stands for a value that is not plain data (an object, a tensor): it equals nothing."""

    type_name: str
    """The type that was there, ``module.Name``."""

    def __repr__(self) -> str:
        return f"<{self.type_name}>"


@dataclass(frozen=True)
class ModelRef:
    """Stands for a Keras model file the receiver loads (the grader's reference model)."""

    path: str
    """Where the receiver finds the ``.keras`` file."""


def map_leaves(value: Any, function: Callable[[Any], Any]) -> Any:
    """``value`` with every leaf of its lists, tuples and mappings replaced by ``function(leaf)``
    (for example a model and the reference to its file, one way and the other)."""
    if isinstance(value, list):
        return [map_leaves(v, function) for v in value]
    if isinstance(value, tuple):
        return tuple(map_leaves(v, function) for v in value)
    if isinstance(value, dict):
        return {k: map_leaves(v, function) for k, v in value.items()}
    return function(value)


def _encode(value: Any, arrays: dict[str, np.ndarray], depth: int, max_depth: int) -> Any:
    # NumPy first: np.float64 is also a Python float, and keeps its own type here.
    if isinstance(value, (np.ndarray, np.generic)) and value.dtype.kind in _ARRAY_KINDS:
        key = f"a{len(arrays)}"
        arrays[key] = np.asarray(value)
        return {"t": "nd" if isinstance(value, np.ndarray) else "np", "k": key}
    if value is None:
        return {"t": "none"}
    if type(value) in (bool, int, float, str):
        return {"t": type(value).__name__, "v": value}
    if type(value) in (list, tuple) and depth < max_depth:
        return {"t": type(value).__name__,
                "v": [_encode(v, arrays, depth + 1, max_depth) for v in value]}
    if type(value) is dict and depth < max_depth and all(type(k) is str for k in value):
        return {"t": "dict",
                "v": [[k, _encode(v, arrays, depth + 1, max_depth)] for k, v in value.items()]}
    if isinstance(value, type) and issubclass(value, np.generic):
        return {"t": "dtype", "v": np.dtype(value).str}
    if isinstance(value, ModelRef):
        return {"t": "model", "v": value.path}
    kind = type(value)
    return {"t": "opaque", "v": f"{kind.__module__}.{kind.__qualname__}"[:200]}


def pack(value: Any, max_depth: int = Limits.max_depth) -> bytes:
    """The blob for ``value``. What is not plain data, or nested deeper than ``max_depth``, is
    sent as an :class:`Opaque`, so a default reader always accepts a default blob's depth."""
    arrays: dict[str, np.ndarray] = {}
    description = _encode(value, arrays, 0, max_depth)
    text = json.dumps(description, allow_nan=True)
    buffer = io.BytesIO()
    np.savez(buffer, **arrays, **{_JSON_KEY: np.frombuffer(text.encode(), dtype=np.uint8)})
    return buffer.getvalue()


def unpack(blob: bytes, limits: Limits = Limits()) -> Any:
    """The value in ``blob``, read within ``limits``.

    Raises:
        PlainDataError: the blob is too large, not an uncompressed archive of plain arrays, or
            its structure is deeper, longer or of other kinds than plain data.
    """
    if not isinstance(blob, (bytes, bytearray)) or len(blob) > limits.max_bytes:
        raise PlainDataError(f"not a blob of at most {limits.max_bytes} bytes")
    try:
        archive = zipfile.ZipFile(io.BytesIO(blob))
        infos = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as error:
        raise PlainDataError(f"not an archive ({error})") from None
    if sum(info.file_size for info in infos) > limits.max_bytes or any(
            info.compress_type != zipfile.ZIP_STORED for info in infos):
        raise PlainDataError("the archive is compressed or larger than allowed")
    arrays: dict[str, np.ndarray] = {}
    try:
        with np.load(io.BytesIO(blob), allow_pickle=False) as loaded:
            for key in loaded.files:
                array = loaded[key]
                if array.dtype.kind not in _ARRAY_KINDS or array.ndim > limits.max_ndim:
                    raise PlainDataError(f"array {key!r} of {array.dtype}, {array.ndim} dims")
                arrays[key] = array
    except PlainDataError:
        raise
    except Exception as error:  # numpy raises several types for a malformed .npy entry
        raise PlainDataError(f"unreadable arrays ({type(error).__name__})") from None
    text = arrays.pop(_JSON_KEY, None)
    if text is None or text.dtype != np.uint8 or text.ndim != 1:
        raise PlainDataError("no description in the archive")
    try:
        description = json.loads(text.tobytes().decode())
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as error:
        raise PlainDataError(f"the description is not JSON ({type(error).__name__})") from None
    return _decode(description, arrays, limits, 0, _Budget(limits))


class _Budget:
    """What is left to decode of one blob: values and bytes, spent as they are decoded.

    Bytes are counted per reference, not per archive entry: a description may name one
    array many times, and every reference decodes to a copy of its own, so a small blob
    could otherwise decode to terabytes.
    """

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.items = limits.max_items
        self.bytes = limits.max_bytes

    def spend_item(self) -> None:
        """Count one more value; refuse the blob past ``max_items``."""
        self.items -= 1
        if self.items < 0:
            raise PlainDataError(f"more than {self.limits.max_items} values")

    def fits(self, count: int) -> None:
        """Refuse the blob when ``count`` more values cannot fit in ``max_items``."""
        if count > self.items:
            raise PlainDataError(f"more than {self.limits.max_items} values")

    def spend_bytes(self, size: int) -> None:
        """Count ``size`` more decoded bytes, *before* they are allocated; refuse the blob
        past ``max_bytes``."""
        self.bytes -= size
        if self.bytes < 0:
            raise PlainDataError(f"decodes to more than {self.limits.max_bytes} bytes")


def _decode(item: Any, arrays: dict[str, np.ndarray], limits: Limits, depth: int,
            budget: _Budget) -> Any:
    budget.spend_item()
    if depth > limits.max_depth:
        raise PlainDataError(f"nested deeper than {limits.max_depth}")
    if not isinstance(item, dict) or not isinstance(item.get("t"), str):
        raise PlainDataError("a value without a kind")
    kind, v = item["t"], item.get("v")
    if kind == "none":
        return None
    if kind == "bool" and type(v) is bool:
        return v
    if kind == "int" and type(v) is int:
        return v
    if kind == "float" and type(v) in (float, int):
        return float(v)
    if kind == "str" and type(v) is str and len(v) <= limits.max_string:
        return v
    if kind in ("list", "tuple") and type(v) is list:
        budget.fits(len(v))
        values = [_decode(x, arrays, limits, depth + 1, budget) for x in v]
        return values if kind == "list" else tuple(values)
    if kind == "dict" and type(v) is list:
        budget.fits(len(v))
        if not all(type(p) is list and len(p) == 2 and type(p[0]) is str
                   and len(p[0]) <= limits.max_string for p in v):
            raise PlainDataError("a malformed mapping")
        return {k: _decode(x, arrays, limits, depth + 1, budget) for k, x in v}
    if kind in ("nd", "np") and item.get("k") in arrays:
        array = arrays[item["k"]]
        budget.spend_bytes(array.nbytes)
        if kind == "nd":
            return array.copy()
        if array.ndim == 0:
            return array[()]
    if kind == "dtype" and type(v) is str and len(v) <= 8:
        try:
            dtype = np.dtype(v)
        except TypeError:
            dtype = None
        if dtype is not None and dtype.kind in _ARRAY_KINDS:
            return dtype.type
    if kind == "model" and type(v) is str and len(v) <= 4096:
        return ModelRef(v)
    if kind == "opaque" and type(v) is str:
        return Opaque(v[:200])
    raise PlainDataError(f"a malformed value of kind {kind[:20]!r}")
