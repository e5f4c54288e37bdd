"""Restricted unpickling of MMSA files: numpy arrays, dtypes, scalars and plain containers only.

A pickle can run any importable callable while it loads. MMSA files need only numpy's
array-rebuilding functions (named ``numpy.core.*`` by numpy 1.x, ``numpy._core.*`` by
numpy 2.x) besides the built-in str, list, dict and tuple opcodes, so every other global is
refused before it is looked up: nothing from a forbidden file runs. The file is read once;
arrays under keys nobody uses (MMSA's ``text`` features) are skipped unread, and the
SHA-256 can be computed in the same pass.
"""

from __future__ import annotations

import hashlib
import importlib
import io
import pickle
import struct
import sys
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from amccl.data.types import DataError, UnsafePickleError


def _numpy_module(name: str) -> Any:
    """numpy's ``_core.<name>`` (numpy 2) or ``core.<name>`` (numpy 1), without warnings."""
    try:
        return importlib.import_module(f"numpy._core.{name}")
    except ImportError:  # numpy 1.x
        return importlib.import_module(f"numpy.core.{name}")


def _allowed_globals() -> dict[tuple[str, str], Any]:
    """(module, name) -> object for every global an MMSA pickle may reference."""
    multiarray, numeric = _numpy_module("multiarray"), _numpy_module("numeric")
    allowed: dict[tuple[str, str], Any] = {("numpy", "ndarray"): np.ndarray, ("numpy", "dtype"): np.dtype}
    for package in ("numpy.core", "numpy._core"):  # numpy 1.x and 2.x spellings
        allowed[(f"{package}.multiarray", "_reconstruct")] = multiarray._reconstruct
        allowed[(f"{package}.multiarray", "scalar")] = multiarray.scalar
        allowed[(f"{package}.numeric", "_frombuffer")] = numeric._frombuffer  # protocol 5
    return allowed


ALLOWED_GLOBALS = _allowed_globals()
SKIP_MIN_BYTES = 1 << 16  # payloads this big are written outside pickle frames (protocol 4)


class _Skipped:
    """Stands in for an array payload that was skipped unread."""


_SKIPPED = _Skipped()


class RestrictedUnpickler(pickle._Unpickler):  # pure-Python: lets us skip payloads unread
    """An unpickler whose ``find_class`` only returns :data:`ALLOWED_GLOBALS`.

    Arrays stored under a dict key in ``skip_keys`` (MMSA's 768-d ``text`` features) are
    never read: their data is skipped (seeked over, or only hashed) and the array is left
    empty, so they cost no memory. Every global lookup goes through ``find_class``.

    Args:
        file: binary file object (seekable when skipping). where: name used in errors.
        skip_keys: dict keys whose large array payloads are skipped.
    """

    dispatch = dict(pickle._Unpickler.dispatch)

    def __init__(self, file: BinaryIO, where: str, skip_keys: frozenset[str] = frozenset()) -> None:
        super().__init__(file)
        self.where, self.skip_keys, self.source = where, skip_keys, file
        self.skipped_bytes = 0

    def find_class(self, module: str, name: str) -> Any:
        try:
            return ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            raise UnsafePickleError(self.where, f"{module}.{name}") from None

    def _skippable(self, size: int) -> bool:
        """Is the payload about to be read the data of an array stored under a skipped key?

        Then the stack holds the array's state tuple under construction (version, shape,
        dtype, fortran) and the enclosing level ends with [key, array].
        """
        if size < SKIP_MIN_BYTES or not self.skip_keys or not self.metastack:
            return False
        outer, state = self.metastack[-1], self.stack
        frame = self._unframer.current_frame
        return (
            len(outer) >= 2 and isinstance(outer[-2], str) and outer[-2] in self.skip_keys
            and type(outer[-1]) is np.ndarray and len(state) == 4 and isinstance(state[1], tuple)
            and isinstance(state[2], np.dtype)
            and (frame is None or frame.tell() == len(frame.getbuffer()))  # outside any frame
        )

    def _payload(self, size: int) -> Any:
        if size > sys.maxsize:
            raise pickle.UnpicklingError(f"byte string of {size} bytes exceeds this system's maximum")
        if not self._skippable(size):
            data = self.read(size)
            if len(data) != size:
                raise pickle.UnpicklingError("pickle data was truncated")
            return data
        skip = getattr(self.source, "skip", None)
        skip(size) if skip is not None else self.source.seek(size, io.SEEK_CUR)
        self.skipped_bytes += size
        return _SKIPPED

    def load_binbytes(self) -> None:
        self.append(self._payload(struct.unpack("<I", self.read(4))[0]))

    def load_binbytes8(self) -> None:
        self.append(self._payload(struct.unpack("<Q", self.read(8))[0]))

    def load_build(self) -> None:
        state = self.stack[-1]
        if isinstance(state, tuple) and any(item is _SKIPPED for item in state):
            self.stack.pop()  # the array stays an empty placeholder
            return
        super().load_build()

    dispatch[pickle.BINBYTES[0]] = load_binbytes
    dispatch[pickle.BINBYTES8[0]] = load_binbytes8
    dispatch[pickle.BUILD[0]] = load_build


class HashingReader:
    """A read-only file wrapper that feeds every byte read to a SHA-256 (one pass).

    Provides the ``read``, ``readinto`` and ``readline`` methods the unpickler uses.
    """

    def __init__(self, raw: BinaryIO) -> None:
        self.raw = raw
        self.hash = hashlib.sha256()

    def read(self, size: int = -1) -> bytes:
        data = self.raw.read(size)
        self.hash.update(data)
        return data

    def readinto(self, buffer: Any) -> int:
        count = self.raw.readinto(buffer)
        self.hash.update(memoryview(buffer)[:count])
        return count

    def readline(self, size: int = -1) -> bytes:
        data = self.raw.readline(size)
        self.hash.update(data)
        return data

    def skip(self, size: int, chunk: int = 1 << 18) -> None:
        """Advance ``size`` bytes, hashing them through one small reused buffer."""
        buffer = memoryview(bytearray(max(1, min(chunk, size))))
        while size > 0:
            count = self.raw.readinto(buffer[:min(len(buffer), size)])
            if not count:
                break
            self.hash.update(buffer[:count])
            size -= count

    def hexdigest(self) -> str:
        """Digest of the whole file: reads (and hashes) whatever the unpickler left."""
        self.skip(sys.maxsize)
        return self.hash.hexdigest()


def restricted_load(
    path: str | Path, compute_hash: bool = False, skip_keys: frozenset[str] = frozenset(),
) -> tuple[Any, str | None]:
    """Unpickle ``path`` once with the allow-list; return (object, sha256 hex or None).

    Arrays under ``skip_keys`` are not read (left empty); the hash still covers every byte.

    Raises:
        UnsafePickleError: the file references a forbidden global.
        DataError: the file is missing, truncated or not a pickle.
    """
    where = str(path)
    try:
        with open(path, "rb") as raw:
            reader: Any = HashingReader(raw) if compute_hash else raw
            obj = RestrictedUnpickler(reader, where, skip_keys).load()
            digest = reader.hexdigest() if compute_hash else None
    except DataError:
        raise
    except FileNotFoundError:
        raise DataError(f"{where}: no such file") from None
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError,
            IndexError, KeyError, OverflowError) as err:
        raise DataError(f"{where}: not a readable MMSA pickle ({type(err).__name__}: {err})") from err
    return obj, digest


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    """SHA-256 hex digest of a file, read in ``chunk``-byte pieces."""
    digest = hashlib.sha256()
    with open(path, "rb", buffering=0) as handle:
        buffer = bytearray(chunk)
        view = memoryview(buffer)
        while count := handle.readinto(buffer):
            digest.update(view[:count])
    return digest.hexdigest()

