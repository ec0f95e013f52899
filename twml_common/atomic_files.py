"""Whole files written atomically: streamed into a hidden temporary beside the target and renamed
over it, so a reader never sees a partial file; temporaries of writers killed mid-write are
removed by the next writer of the same path."""

import contextlib
import errno
import os
import tempfile
from typing import BinaryIO, Iterator, List, Optional

from twml_common.processes import process_alive


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


def remove_stale_temporaries(path: str, any_writer: bool = False) -> List[str]:
    """Removes the temporaries that writers of `path` killed mid-write left beside it: hidden files
    ``.<name>.tmp-<pid>-*`` whose process no longer exists (a live writer's are left alone).

    With `any_writer`, every temporary of `path` goes, whatever its pid says: for a caller that knows
    it is the only writer of `path` (a batch-prediction shard), since a pid names no process reliably
    across hosts and containers (a rerun in a new container may well have the killed writer's pid).

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
        pid_text = name[len(prefix) :].split("-", 1)[0]
        if not pid_text.isdigit() or (not any_writer and process_alive(int(pid_text))):
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
