"""What the container tests share: the engine (podman here), the images (built when missing, offline),
host folders the images' user can write, and clean-up that leaves no container behind."""

import contextlib
import json
import os
import subprocess
import sys
import uuid
from typing import Iterator, List

from docker import build

IMAGE_UID = 1000


def wheel() -> str:
    """The twml wheel Bazel built (``$TWML_TEST_WHEEL``); also points build.py at the set-up's
    wheelhouse (python_env.json's, ``$TWML_TEST_PYTHON_ENV``)."""
    if "TWML_WHEELHOUSE" not in os.environ:
        with open(os.environ["TWML_TEST_PYTHON_ENV"]) as f:
            os.environ["TWML_WHEELHOUSE"] = json.load(f)["wheelhouse"]
    return os.environ["TWML_TEST_WHEEL"]


def engine() -> build.Engine:
    return build.find_engine()


def image(target: str) -> str:
    """``localhost/twml:<target>`` of this tree: built offline from the prepared cache (layers the
    tree has not changed come from the engine's cache)."""
    build.build(target, wheel(), engine())
    return "localhost/twml:" + target


def run(args: List[str], timeout: float = 600, check: bool = True) -> subprocess.CompletedProcess:
    """``<engine> args``; on failure (with ``check``) an AssertionError carrying its output."""
    try:
        result = subprocess.run(
            [engine().name] + args, env=engine().env, capture_output=True, text=True, timeout=timeout
        )
    except subprocess.TimeoutExpired as error:
        raise AssertionError("%s did not finish in %d s:\n%s" % (args[:4], timeout, error.stdout)) from None
    if check:
        assert result.returncode == 0, "%s exited %d:\n%s\n%s" % (
            args[:4],
            result.returncode,
            result.stdout,
            result.stderr[-6000:],
        )
    return result


def writable_folder(path: str) -> str:
    """Makes ``path`` and gives it to the images' user (uid 1000), as a user would before a bind mount."""
    os.makedirs(path, exist_ok=True)
    os.chown(path, IMAGE_UID, IMAGE_UID)
    return path


@contextlib.contextmanager
def container_name(prefix: str) -> Iterator[str]:
    """A unique container name; the container is removed afterwards, whatever happened."""
    name = "%s-%s" % (prefix, uuid.uuid4().hex[:8])
    try:
        yield name
    finally:
        run(["rm", "--force", "--ignore", name], check=False, timeout=120)


def python() -> str:
    return sys.executable
