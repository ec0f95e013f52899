"""tools/bazel refuses an unsupported Python with a clear message, before touching anything."""

import os
import subprocess

import pytest


def fake_python(directory, version):
    """An executable that answers the wrapper's version probe like a CPython of `version`."""
    path = directory / ("python" + version)
    path.write_text("#!/bin/sh\necho %s\n" % version)
    path.chmod(0o755)
    return str(path)


@pytest.mark.parametrize("version", ["3.8", "3.12"])
def test_unsupported_python_is_a_clear_error(tmp_path, version):
    venv = tmp_path / "venv"
    env = dict(os.environ, TWML_BOOTSTRAP_PYTHON=fake_python(tmp_path, version), TWML_VENV=str(venv))
    env.pop("BAZEL_REAL", None)
    result = subprocess.run([os.environ["TWML_TEST_WRAPPER"], "version"], env=env, capture_output=True, text=True)
    assert result.returncode == 1
    assert "twml needs CPython 3.9, 3.10 or 3.11" in result.stderr
    assert "python%s=%s" % (version, version) in result.stderr
    assert not venv.exists()
