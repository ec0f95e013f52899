"""The Python sources are ruff-clean under the rules of pyproject.toml.

The test reads the source tree itself: it resolves pyproject.toml's runfiles symlink back to the
checkout. It is tagged `external` in BUILD.bazel so Bazel never serves it from the cache.
"""

import os
import subprocess
import sys

import pytest


def test_python_sources_are_ruff_clean():
    source_root = os.path.dirname(os.path.realpath(os.environ["TWML_TEST_PYPROJECT"]))
    ruff = os.path.join(os.path.dirname(sys.executable), "ruff")
    # Run from the checkout so that pyproject.toml's relative patterns resolve against it.
    result = subprocess.run([ruff, "check", "--no-cache", "."], cwd=source_root, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


if __name__ == "__main__":
    os.environ["TWML_TEST_PYPROJECT"] = os.path.abspath(sys.argv[1])
    sys.exit(pytest.main([__file__, "-p", "no:cacheprovider", "-q"]))
