"""twml.tensorio: reads tensor dumps of DeepBird v1 (Lua): a directory with ``spec.yaml`` and raw files.

``spec.yaml`` maps each name to an entry. A tensor entry is
``{type: tensor, filename: F, tensorType: Double|Float|Int|Long|Byte, offset: O, size: [d0, d1, ...]}``:
its elements are stored C-ordered in ``<dir>/F`` starting at element ``O`` (1-based). Any other
entry is ``{type: ..., data: value}`` and reads as ``value``. Quote characters are removed from
names (v1 wrote names like ``"weight".'1'``, which read as ``weight.1``).
"""

import os
from typing import Any, Dict, List

import numpy as np
import yaml

#: ``tensorType`` -> numpy dtype.
TENSOR_TYPES = {
    "Double": np.float64,
    "Float": np.float32,
    "Int": np.int32,
    "Long": np.int64,
    "Byte": np.int8,
}


def _clean(name: Any) -> str:
    return str(name).replace("'", "").replace('"', "")


class TensorIO:
    """A DeepBird v1 tensor dump.

    Args:
      tensorio_path: the directory holding ``spec.yaml``.
      mmap_tensor: True: tensors are read-only ``np.memmap`` views of the files; False: loaded copies.

    Raises:
      ValueError: ``<tensorio_path>/spec.yaml`` does not exist.

    ``tio[name]`` loads the tensor ``name``; for a name that is only a dotted prefix it returns a
    helper, so that ``tio["a"]["b"]["1"]`` loads ``a.b.1`` (each step raises ``ValueError`` when no
    name starts with the prefix).
    """

    def __init__(self, tensorio_path: str, mmap_tensor: bool = True) -> None:
        spec_path = os.path.join(tensorio_path, "spec.yaml")
        if not os.path.exists(spec_path):
            raise ValueError("%s does not exist: not a tensorio directory" % spec_path)
        with open(spec_path) as handle:
            spec = yaml.safe_load(handle) or {}
        self._path = tensorio_path
        self._mmap = mmap_tensor
        self._spec: Dict[str, Dict[str, Any]] = {_clean(name): entry for name, entry in spec.items()}

    def list_tensors(self) -> List[str]:
        """Every (cleaned) name of the spec."""
        return list(self._spec)

    def _load(self, name: str, tensors_only: bool) -> Any:
        entry = self._spec[name]
        if entry.get("type") != "tensor":
            if tensors_only:
                raise ValueError("%r is a %r entry, not a tensor" % (name, entry.get("type")))
            return entry.get("data")
        kind = entry["tensorType"]
        if kind not in TENSOR_TYPES:
            raise ValueError("%r: unsupported tensorType %r (supported: %s)" % (name, kind, ", ".join(TENSOR_TYPES)))
        dtype = np.dtype(TENSOR_TYPES[kind])
        shape = tuple(int(d) for d in entry["size"])
        offset = (int(entry["offset"]) - 1) * dtype.itemsize
        data = np.memmap(
            os.path.join(self._path, entry["filename"]), dtype=dtype, mode="r", offset=offset, shape=shape, order="C"
        )
        return data if self._mmap else np.array(data)

    def load_all(self) -> Dict[str, Any]:
        """name -> tensor (numpy array) or data value, for every entry."""
        return {name: self._load(name, tensors_only=False) for name in self._spec}

    def __getitem__(self, name: str) -> Any:
        name = _clean(name)
        if name in self._spec:
            return self._load(name, tensors_only=True)
        return _Prefix(self, name)


class _Prefix:
    """The dotted-name accumulator returned by ``TensorIO[prefix]``."""

    def __init__(self, tio: TensorIO, prefix: str) -> None:
        if not any(name.startswith(prefix) for name in tio._spec):
            raise ValueError("no tensor name starts with %r" % prefix)
        self._tio = tio
        self._prefix = prefix

    def __getitem__(self, key: str) -> Any:
        name = self._prefix + "." + _clean(key)
        if name in self._tio._spec:
            return self._tio._load(name, tensors_only=False)
        return _Prefix(self._tio, name)
