"""The Python sources are ruff-clean under the rules of pyproject.toml and formatted by `ruff format`,
and the public API modules (pyproject.toml's [tool.mypy] files) type-check under mypy.

The test reads the source tree itself: it resolves pyproject.toml's runfiles symlink back to the
checkout. It is tagged `external` in BUILD.bazel so Bazel never serves it from the cache.
"""

import os
import subprocess
import sys
import tempfile


def source_root():
    return os.path.dirname(os.path.realpath(os.environ["TWML_TEST_PYPROJECT"]))


def tool(name):
    return os.path.join(os.path.dirname(sys.executable), name)


def test_python_sources_are_ruff_clean():
    # Run from the checkout so that pyproject.toml's relative patterns resolve against it.
    result = subprocess.run(
        [tool("ruff"), "check", "--no-cache", "."], cwd=source_root(), capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_python_sources_are_ruff_formatted():
    # `.venv/bin/ruff format` formats them; the excluded paths are pyproject.toml's (bazel-*, .venv).
    result = subprocess.run(
        [tool("ruff"), "format", "--check", "--no-cache", "."], cwd=source_root(), capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_public_api_modules_type_check():
    # The files and settings are pyproject.toml's; a fresh cache keeps runs independent (~5 s).
    with tempfile.TemporaryDirectory() as cache:
        result = subprocess.run(
            [tool("mypy"), "--cache-dir", cache], cwd=source_root(), capture_output=True, text=True, timeout=300
        )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Success: no issues found" in result.stdout
