"""Our lzop files against the real `lzop` tool (Debian's lzop package), both ways.

Skipped, with the reason, where the tool is not installed; tools/bazel installs it.
"""

import shutil
import subprocess

import pytest

from libtwml import _core

LZOP = shutil.which("lzop")
if LZOP is None:
    pytest.skip("the lzop tool is not installed (Debian package lzop)", allow_module_level=True)

CLASS = "com.twitter.ml.api.DataRecord"


def block_file_bytes(count):
    records = [("record %d " % i).encode() * (i % 50) for i in range(count)]
    blocks = b"".join(_core.encode_block(CLASS, records[i : i + 100]) for i in range(0, count, 100))
    return records, blocks


def noise(size):
    state, out = 12345, bytearray()
    for _ in range(size):
        state = (state * 1103515245 + 12345) & 0x7FFFFFFF
        out.append(state >> 16 & 0xFF)
    return bytes(out)


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"crc32": True},
        {"checksum_compressed": False},
        {"block_size": 1000},
    ],
)
def test_lzop_decompresses_our_files(tmp_path, options):
    # Compressible text over several 256 KiB blocks, and noise that is stored uncompressed.
    _, data = block_file_bytes(3000)
    data += noise(5000)
    compressed = tmp_path / "ours.lzo"
    compressed.write_bytes(_core.lzop_compress(data, **options))
    subprocess.run([LZOP, "-t", "-q", str(compressed)], check=True)
    out = subprocess.run([LZOP, "-d", "-c", str(compressed)], check=True, stdout=subprocess.PIPE).stdout
    assert out == data


@pytest.mark.parametrize("flags", [[], ["-1"], ["-9"], ["--crc32"], ["-F"]])
def test_we_read_lzop_files(tmp_path, flags):
    records, data = block_file_bytes(3000)
    assert len(data) > 256 * 1024  # more than one lzop block
    source = tmp_path / "part-00000"
    source.write_bytes(data)
    compressed = tmp_path / "part-00000.lzo"
    subprocess.run([LZOP, *flags, "-o", str(compressed), str(source)], check=True)
    assert _core.decompress(compressed.read_bytes(), "lzo") == data
    assert _core.read_block_file(str(compressed)) == records


def test_we_read_lzop_output_from_a_pipe(tmp_path):
    # From standard input lzop writes no file name and the F_STDIN flag.
    records, data = block_file_bytes(10)
    out = subprocess.run([LZOP, "-c"], input=data, check=True, stdout=subprocess.PIPE).stdout
    path = tmp_path / "stdin.lzo"
    path.write_bytes(out)
    assert _core.read_block_file(str(path)) == records


def test_lzop_detects_our_checksums(tmp_path):
    _, data = block_file_bytes(200)
    compressed = bytearray(_core.lzop_compress(data))
    compressed[46] ^= 1  # the adler32 of the first block's data
    path = tmp_path / "bad.lzo"
    path.write_bytes(bytes(compressed))
    result = subprocess.run([LZOP, "-t", str(path)], stderr=subprocess.PIPE)
    assert result.returncode != 0 and b"checksum error" in result.stderr.lower()
    with pytest.raises(_core.Error, match="adler32 checksum mismatch"):
        _core.decompress(bytes(compressed), "lzo")
