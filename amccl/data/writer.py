"""Writing the MMSA pickle layout: protocol 4, numpy 1.x global names, bounded memory.

Real MMSA files were written by numpy 1.x, so their arrays reference
``numpy.core.multiarray._reconstruct``; numpy 2.x writes ``numpy._core.multiarray``. The
writer spells the 1.x names by default so the loader's path for real files is the one
exercised. To write a MOSEI-sized file in little memory it (a) keeps no memo (each array
is freed once written), (b) streams each array's buffer instead of copying it with
``tobytes()``, and (c) accepts :class:`Lazy` values built only when their turn comes. The
bytes an array becomes are exactly those ``ndarray.__reduce__`` would produce.
"""

from __future__ import annotations

import os
import pickle
import struct
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

PROTOCOL = 4
_RECONSTRUCT = np.ndarray.__reduce__(np.zeros(0))[0]  # numpy's multiarray._reconstruct


class Lazy:
    """A value computed only when the writer reaches it (e.g. a large array)."""

    def __init__(self, make: Callable[[], Any]) -> None:
        self.make = make


class _Buffer:
    """An array's raw bytes, written as ``BINBYTES8`` without a copy."""

    def __init__(self, array: np.ndarray) -> None:
        self.view = memoryview(np.ascontiguousarray(array)).cast("B")


class MMSAPickler(pickle._Pickler):  # the pure-Python pickler lets us spell globals and stream buffers
    """Protocol-4 pickler for MMSA dicts of numpy arrays, with bounded memory.

    Args:
        file: binary file. numpy1_names: spell numpy globals as numpy 1.x did.
    """

    dispatch = dict(pickle._Pickler.dispatch)

    def __init__(self, file: Any, numpy1_names: bool = True) -> None:
        super().__init__(file, protocol=PROTOCOL)
        self.fast = True  # no memo: written arrays are not kept alive (nothing here repeats)
        self.numpy1_names = numpy1_names

    def reducer_override(self, obj: Any) -> Any:
        """ndarray -> numpy's own reduce tuple, with the data streamed instead of copied."""
        if type(obj) is np.ndarray and not obj.dtype.hasobject:
            fortran = bool(obj.flags.f_contiguous and not obj.flags.c_contiguous)
            data = obj.T if fortran else obj  # numpy writes a Fortran array's bytes in F order
            state = (1, obj.shape, obj.dtype, fortran, _Buffer(data))
            return _RECONSTRUCT, (np.ndarray, (0,), b"b"), state
        return NotImplemented

    def save_buffer(self, obj: _Buffer) -> None:
        """Opcodes and bytes identical to ``save_bytes`` of ``obj.view.tobytes()``."""
        n = obj.view.nbytes
        if n <= 0xFF:
            self.write(pickle.SHORT_BINBYTES + struct.pack("<B", n) + obj.view.tobytes())
        elif n > 0xFFFFFFFF:
            self._write_large_bytes(pickle.BINBYTES8 + struct.pack("<Q", n), obj.view)
        elif n >= self.framer._FRAME_SIZE_TARGET:
            self._write_large_bytes(pickle.BINBYTES + struct.pack("<I", n), obj.view)
        else:
            self.write(pickle.BINBYTES + struct.pack("<I", n) + obj.view.tobytes())

    def save_lazy(self, obj: Lazy) -> None:
        self.save(obj.make())

    dispatch[_Buffer] = save_buffer
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
    """Write ``{split: {key: array | Lazy}}`` to ``path`` atomically (temp file + rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}")
    try:
        with open(temp, "wb") as handle:
            MMSAPickler(handle, numpy1_names=numpy1_names).dump(data)
        os.replace(temp, path)
    finally:
        temp.unlink(missing_ok=True)
    return path
