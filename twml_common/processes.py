"""Processes on this host: whether a pid runs, and an id of a process that a later process reusing
its pid will not have (both from /proc)."""

import os
from typing import List, Optional


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
