"""twml.tensorio.TensorIO on DeepBird-v1 dumps written here with numpy: every tensorType, 1-based
element offsets, memmap vs loaded copies, data entries, cleaned names and the dotted-prefix helper."""

import os

import numpy as np
import pytest
import yaml

from twml.tensorio import TensorIO


def write_dump(directory, entries, files):
    """``files``: filename -> numpy array written raw (C order); ``entries``: the spec.yaml mapping."""
    for name, array in files.items():
        array.tofile(os.path.join(directory, name))
    with open(os.path.join(directory, "spec.yaml"), "w") as handle:
        yaml.safe_dump(entries, handle)


def tensor(filename, kind, offset, size):
    return {"type": "tensor", "filename": filename, "tensorType": kind, "offset": offset, "size": size}


DOUBLES = np.arange(20, dtype=np.float64) * 0.5
FLOATS = np.linspace(-1, 1, 12).astype(np.float32)
INTS = np.arange(-6, 6, dtype=np.int32)
LONGS = np.array([2**40 + i for i in range(8)], np.int64)
BYTES = np.array([-128, -1, 0, 1, 127, 5], np.int8)


@pytest.fixture()
def dump(tmp_path):
    entries = {
        "\"weight\".'1'": tensor("doubles.bin", "Double", 3, [3, 6]),  # elements 2..19 as [3, 6]
        "bias.1": tensor("floats.bin", "Float", 1, [12]),
        "layer.a.kernel": tensor("ints.bin", "Int", 5, [2, 2, 2]),
        "layer.a.ids": tensor("longs.bin", "Long", 8, [1]),
        "layer.b.codes": tensor("bytes.bin", "Byte", 2, [5]),
        "layer.b.meta": {"type": "table", "data": {"lr": 0.1, "names": ["x", "y"]}},
        "note": {"type": "string", "data": "hello"},
    }
    write_dump(
        str(tmp_path),
        entries,
        {"doubles.bin": DOUBLES, "floats.bin": FLOATS, "ints.bin": INTS, "longs.bin": LONGS, "bytes.bin": BYTES},
    )
    return str(tmp_path)


def test_tensors_of_every_type_at_their_offsets(dump):
    tio = TensorIO(dump)
    assert sorted(tio.list_tensors()) == sorted(
        ["weight.1", "bias.1", "layer.a.kernel", "layer.a.ids", "layer.b.codes", "layer.b.meta", "note"]
    )
    expected = {
        "weight.1": DOUBLES[2:20].reshape(3, 6),
        "bias.1": FLOATS,
        "layer.a.kernel": INTS[4:12].reshape(2, 2, 2),
        "layer.a.ids": LONGS[7:8],
        "layer.b.codes": BYTES[1:6],
    }
    for name, value in expected.items():
        loaded = tio[name]
        assert loaded.dtype == value.dtype and loaded.shape == value.shape, name
        np.testing.assert_array_equal(loaded, value, err_msg=name)
    # the name as v1 wrote it, quotes included, reads the same tensor
    np.testing.assert_array_equal(tio["\"weight\".'1'"], expected["weight.1"])


def test_memmap_is_read_only_and_mmap_false_loads_copies(dump):
    mapped = TensorIO(dump)["bias.1"]
    assert isinstance(mapped, np.memmap)
    with pytest.raises(ValueError):
        mapped[0] = 3.0
    copy = TensorIO(dump, mmap_tensor=False)["bias.1"]
    assert not isinstance(copy, np.memmap)
    copy[0] = 3.0  # a private copy: the file keeps its bytes
    np.testing.assert_array_equal(np.fromfile(os.path.join(dump, "floats.bin"), np.float32), FLOATS)


def test_data_entries_load_all_and_the_prefix_helper(dump):
    tio = TensorIO(dump)
    everything = tio.load_all()
    assert everything["note"] == "hello"
    assert everything["layer.b.meta"] == {"lr": 0.1, "names": ["x", "y"]}
    np.testing.assert_array_equal(everything["layer.a.kernel"], INTS[4:12].reshape(2, 2, 2))
    with pytest.raises(ValueError, match="not a tensor"):
        tio["note"]  # an exact name loads tensors only
    # tio['a']['b'] accumulates a dotted name; the helper also returns data entries
    np.testing.assert_array_equal(tio["layer"]["a"]["kernel"], INTS[4:12].reshape(2, 2, 2))
    np.testing.assert_array_equal(tio["weight"]["1"], DOUBLES[2:20].reshape(3, 6))
    assert tio["layer"]["b"]["meta"]["lr"] == 0.1
    with pytest.raises(ValueError, match="no tensor name starts with 'nothing'"):
        tio["nothing"]
    with pytest.raises(ValueError, match="layer.c"):
        tio["layer"]["c"]


def test_unsupported_type_and_missing_spec(tmp_path):
    with pytest.raises(ValueError, match="spec.yaml"):
        TensorIO(str(tmp_path))
    write_dump(str(tmp_path), {"half": tensor("h.bin", "Half", 1, [2])}, {"h.bin": np.zeros(2, np.float16)})
    with pytest.raises(ValueError, match="unsupported tensorType 'Half'"):
        TensorIO(str(tmp_path))["half"]
