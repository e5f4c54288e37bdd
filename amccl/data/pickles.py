"""The MMSA pickle format both ways. Reading refuses every global but numpy's array builders
before it is looked up (nothing from a forbidden file runs) and can skip arrays unread and hash
in the same pass; writing spells numpy 1.x names, as real MMSA files do, in bounded memory.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import io
import pickle
import struct
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any, BinaryIO

import numpy as np

from amccl.data.types import DataError, UnsafePickleError
from amccl.runtime import atomic_write

SKIP_MIN_BYTES = 1 << 16  # payloads this big are written outside pickle frames (protocol 4)
_RECONSTRUCT = np.ndarray.__reduce__(np.zeros(0))[0]  # numpy's multiarray._reconstruct


def _allowed_globals() -> dict[tuple[str, str], Any]:
    """(module, name) -> object for every global an MMSA pickle may reference."""
    core = "numpy._core" if importlib.util.find_spec("numpy._core") else "numpy.core"  # numpy 2 / 1
    multiarray, numeric = (importlib.import_module(f"{core}.{m}") for m in ("multiarray", "numeric"))
    allowed: dict[tuple[str, str], Any] = {("numpy", "ndarray"): np.ndarray, ("numpy", "dtype"): np.dtype}
    for package in ("numpy.core", "numpy._core"):  # numpy 1.x and 2.x spellings
        allowed[(f"{package}.multiarray", "_reconstruct")] = multiarray._reconstruct
        allowed[(f"{package}.multiarray", "scalar")] = multiarray.scalar
        allowed[(f"{package}.numeric", "_frombuffer")] = numeric._frombuffer  # protocol 5
    return allowed


ALLOWED_GLOBALS = _allowed_globals()
_SKIPPED = object()  # stands in for an array payload that was skipped unread


class RestrictedUnpickler(pickle._Unpickler):  # pure-Python: lets us skip payloads unread
    """An unpickler whose ``find_class`` only returns :data:`ALLOWED_GLOBALS`.

    Args:
        file: binary file object (seekable when skipping). where: name used in errors.
        skip_keys: dict keys whose large array payloads are skipped (seeked over, or only
            hashed); the array is left empty.
        probe: skip every array payload of 64 KiB or more outside a pickle frame; the array
            becomes a stand-in with ``shape``, ``dtype`` and ``ndim`` only.
    """

    dispatch = dict(pickle._Unpickler.dispatch)

    def __init__(self, file: BinaryIO, where: str, skip_keys: frozenset[str] = frozenset(),
                 probe: bool = False) -> None:
        super().__init__(file)
        self.where, self.skip_keys, self.source, self.probe = where, skip_keys, file, probe

    def find_class(self, module: str, name: str) -> Any:
        try:
            return ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            raise UnsafePickleError(self.where, f"{module}.{name}") from None

    def _skippable(self, size: int) -> bool:
        """Is the payload about to be read an array's data to skip? Then the stack holds the
        array's state tuple (version, shape, dtype, fortran), outside any frame, and (unless
        probing) the enclosing level ends with [skipped key, array]."""
        if size < SKIP_MIN_BYTES:
            return False
        state, frame = self.stack, self._unframer.current_frame
        if not (len(state) == 4 and isinstance(state[1], tuple) and isinstance(state[2], np.dtype)
                and (frame is None or frame.tell() == len(frame.getbuffer()))):
            return False
        outer = self.metastack[-1] if self.metastack else ()
        return self.probe or (len(outer) >= 2 and isinstance(outer[-2], str) and outer[-2] in self.skip_keys
                              and type(outer[-1]) is np.ndarray)

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
        return _SKIPPED

    def load_binbytes(self) -> None:
        self.append(self._payload(struct.unpack("<I", self.read(4))[0]))

    def load_binbytes8(self) -> None:
        self.append(self._payload(struct.unpack("<Q", self.read(8))[0]))

    def load_build(self) -> None:
        state = self.stack[-1]
        if isinstance(state, tuple) and any(item is _SKIPPED for item in state):
            self.stack.pop()  # the array stays an empty placeholder, or becomes a shape stand-in
            if self.probe:
                self.stack[-1] = SimpleNamespace(shape=tuple(state[1]), dtype=state[2], ndim=len(state[1]))
            return
        super().load_build()

    dispatch[pickle.BINBYTES[0]] = load_binbytes
    dispatch[pickle.BINBYTES8[0]] = load_binbytes8
    dispatch[pickle.BUILD[0]] = load_build


class HashingReader:
    """A read-only file wrapper feeding every byte read or skipped to one SHA-256."""

    def __init__(self, raw: BinaryIO) -> None:
        self.raw, self.hash = raw, hashlib.sha256()

    def read(self, size: int = -1) -> bytes:
        data = self.raw.read(size)
        self.hash.update(data)
        return data

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
    """Unpickle ``path`` once with the allow-list; return (object, sha256 hex or None). Arrays
    under ``skip_keys`` are left empty, unread; the hash still covers every byte.

    Raises:
        UnsafePickleError: the file references a forbidden global.
        DataError: the file is missing, truncated or not a pickle.
    """
    with _reading(path) as raw:
        reader: Any = HashingReader(raw) if compute_hash else raw
        obj = RestrictedUnpickler(reader, str(path), skip_keys).load()
        digest = reader.hexdigest() if compute_hash else None
    return obj, digest


@contextlib.contextmanager
def _reading(path: str | Path) -> Iterator[BinaryIO]:
    """``path`` opened for unpickling; what goes wrong becomes a :class:`DataError` naming it."""
    where = str(path)
    try:
        with open(path, "rb") as raw:
            yield raw
    except DataError:
        raise
    except FileNotFoundError:
        raise DataError(f"{where}: no such file") from None
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError,
            IndexError, KeyError, OverflowError) as err:
        raise DataError(f"{where}: not a readable MMSA pickle ({type(err).__name__}: {err})") from err


def sha256_file(path: str | Path) -> str:
    """SHA-256 hex digest of a file."""
    with open(path, "rb", buffering=0) as handle:
        return HashingReader(handle).hexdigest()


class Lazy:
    """A value computed only when the writer reaches it (e.g. a large array)."""

    def __init__(self, make: Callable[[], Any]) -> None:
        self.make = make


class MMSAPickler(pickle._Pickler):  # the pure-Python pickler lets us spell globals and stream buffers
    """Protocol-4 pickler for MMSA dicts of numpy arrays, with bounded memory.

    Args:
        file: binary file. numpy1_names: spell numpy globals as numpy 1.x did.
    """

    dispatch = dict(pickle._Pickler.dispatch)

    def __init__(self, file: Any, numpy1_names: bool = True) -> None:
        super().__init__(file, protocol=4)
        self.fast = True  # no memo: written arrays are not kept alive (nothing here repeats)
        self.numpy1_names = numpy1_names

    def reducer_override(self, obj: Any) -> Any:
        """ndarray -> numpy's own reduce tuple, with the data streamed instead of copied."""
        if type(obj) is np.ndarray and not obj.dtype.hasobject:
            fortran = bool(obj.flags.f_contiguous and not obj.flags.c_contiguous)
            data = obj.T if fortran else obj  # numpy writes a Fortran array's bytes in F order
            buffer = memoryview(np.ascontiguousarray(data)).cast("B")  # the array's bytes, not copied
            return _RECONSTRUCT, (np.ndarray, (0,), b"b"), (1, obj.shape, obj.dtype, fortran, buffer)
        return NotImplemented

    def save_lazy(self, obj: Lazy) -> None:
        self.save(obj.make())

    dispatch[memoryview] = pickle._Pickler.save_bytes  # the bytes of obj.tobytes(), not copied (no memo)
    dispatch[Lazy] = save_lazy

    def save_global(self, obj: Any, name: str | None = None) -> None:
        module = getattr(obj, "__module__", "") or ""
        if self.numpy1_names and module.startswith("numpy._core"):
            self.save(module.replace("numpy._core", "numpy.core", 1))
            self.save(name or obj.__qualname__)
            self.write(pickle.STACK_GLOBAL)
            return
        super().save_global(obj, name)


def write_mmsa_pickle(data: dict[str, Any], path: str | Path, numpy1_names: bool = True) -> Path:
    """Write ``{split: {key: array | Lazy}}`` to ``path`` atomically (:func:`~amccl.runtime.atomic_write`)."""
    return atomic_write(path, lambda handle: MMSAPickler(handle, numpy1_names=numpy1_names).dump(data))


def probe_arrays(path: str | Path) -> Any:
    """The unpickled structure of ``path`` with large arrays as stand-ins (``.shape``, ``.dtype``,
    ``.ndim``), their bytes seeked over: a MOSEI-sized file in well under a second.

    Raises:
        UnsafePickleError, DataError: as :func:`restricted_load`.
    """
    with _reading(path) as raw:
        return RestrictedUnpickler(raw, str(path), probe=True).load()
