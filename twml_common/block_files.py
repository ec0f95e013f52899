"""Writing whole DataRecord block files, atomically (a temporary name, then a rename), so a
reader never sees a partial file. (Streaming writes with the original's side-file semantics are
twml.BlockFormatWriter's job.)"""

import contextlib
import errno
import gzip
import os
import tempfile
from typing import BinaryIO, Iterator, List, Optional, Sequence

from libtwml import _core

#: The proto_class_name the block headers of DataRecord files carry.
RECORD_CLASS_NAME = "com.twitter.ml.api.DataRecord"

#: Block-file compressions the writers know; the file extension is "." + the name ("" for raw).
COMPRESSIONS = ("", "gz", "lzo")


def current_umask() -> int:
    """The process's umask, read from /proc where possible (setting it to read it back is not
    thread-safe)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def plain_file_mode() -> int:
    """The mode a plain ``open(path, "w")`` gives a new file under the current umask."""
    return 0o666 & ~current_umask()


def _temporary_prefix(path: str) -> str:
    """The hidden name prefix of `path`'s temporaries: ``.<name>.tmp-``, then the writer's pid."""
    return ".%s.tmp-" % os.path.basename(path)


def _proc_stat(pid: int) -> Optional[List[str]]:
    """The fields of /proc/<pid>/stat after the command name (state first), or None."""
    try:
        with open("/proc/%d/stat" % pid, "rb") as stat:
            data = stat.read()
    except OSError:
        return None
    return data[data.rindex(b")") + 2 :].decode("ascii", "replace").split()


def process_alive(pid: int) -> bool:
    """Whether a process `pid` runs on this host (a zombie, killed but not yet reaped, does not)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    fields = _proc_stat(pid)
    return fields is None or fields[0] != "Z"


def process_start_id(pid: int) -> Optional[str]:
    """An id of the running process `pid` that a later process reusing the pid will not have:
    ``<boot id>:<start time in clock ticks since boot>`` (from /proc), or None when `pid` does
    not run (or /proc is not there)."""
    fields = _proc_stat(pid)
    if fields is None or fields[0] == "Z":
        return None
    try:
        with open("/proc/sys/kernel/random/boot_id") as boot:
            boot_id = boot.read().strip()
    except OSError:
        boot_id = ""
    return "%s:%s" % (boot_id, fields[19])


def remove_stale_temporaries(path: str) -> List[str]:
    """Removes the temporaries that writers of `path` killed mid-write left beside it: hidden files
    ``.<name>.tmp-<pid>-*`` whose process no longer exists (a live writer's are left alone).

    Returns:
      the removed paths.
    """
    directory = os.path.dirname(os.path.abspath(path))
    prefix = _temporary_prefix(path)
    removed = []
    try:
        names = os.listdir(directory)
    except OSError:
        return removed
    for name in names:
        if not name.startswith(prefix):
            continue
        pid_text = name[len(prefix):].split("-", 1)[0]
        if not pid_text.isdigit() or process_alive(int(pid_text)):
            continue
        try:
            os.unlink(os.path.join(directory, name))
            removed.append(os.path.join(directory, name))
        except OSError as error:
            if error.errno != errno.ENOENT:
                raise
    return removed


@contextlib.contextmanager
def atomic_output(path: str, mode: Optional[int] = None, fsync: bool = False) -> Iterator[BinaryIO]:
    """A binary file to stream into, renamed over `path` when the ``with`` block ends without an
    error (removed when it raises), so a reader never sees a partial `path`.

    The temporary is the hidden ``.<name>.tmp-<pid>-*`` beside `path` (a later writer removes it
    with :func:`remove_stale_temporaries` when this process was killed mid-write). The file gets
    `mode`, by default what a plain ``open()`` would give it under the umask; with `fsync` its data
    reaches the disk before the rename.
    """
    remove_stale_temporaries(path)
    handle, temporary = tempfile.mkstemp(
        dir=os.path.dirname(os.path.abspath(path)), prefix="%s%d-" % (_temporary_prefix(path), os.getpid())
    )
    try:
        with os.fdopen(handle, "wb") as output:
            os.fchmod(output.fileno(), plain_file_mode() if mode is None else mode)
            yield output
            if fsync:
                output.flush()
                os.fsync(output.fileno())
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise


def write_file_atomically(path: str, data: bytes, mode: Optional[int] = None) -> None:
    """Write `data` to a temporary file beside `path` and rename it over `path`.

    The file gets `mode`, by default what a plain ``open()`` would give it under the umask (not the
    0600 of a private temporary file). Temporaries of earlier writers of `path` that were killed
    mid-write are removed first.
    """
    with atomic_output(path, mode) as output:
        output.write(data)


def encode_block_file(records: Sequence[bytes], records_per_block: int = 100) -> bytes:
    """The bytes of a block file holding serialized `records`, `records_per_block` to a block."""
    return b"".join(
        _core.encode_block(RECORD_CLASS_NAME, list(records[i : i + records_per_block]))
        for i in range(0, len(records), records_per_block)
    )


def write_block_file(path: str, records: Sequence[bytes], records_per_block: int = 100, compression: str = "") -> None:
    """Write serialized records as a block file, atomically; compression "" (raw), "gz" or "lzo"
    (the lzop container real DataRecord files use)."""
    if compression not in COMPRESSIONS:
        raise ValueError("compression must be one of %s, not %r" % (", ".join(map(repr, COMPRESSIONS)), compression))
    data = encode_block_file(records, records_per_block)
    if compression == "gz":
        data = gzip.compress(data, mtime=0)
    elif compression == "lzo":
        data = _core.lzop_compress(data)
    write_file_atomically(path, data)
