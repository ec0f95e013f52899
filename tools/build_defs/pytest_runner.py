"""The main of every twml_py_test: runs pytest on one test file.

    pytest_runner.py TEST_FILE [--env NAME=PATH ...] [-- PYTEST_ARGS...]

Each ``--env NAME=PATH`` sets the environment variable NAME to PATH made absolute (a file the test
reads, given by Bazel as ``$(rootpath ...)``) before pytest starts. The exit status is pytest's,
except that a file without tests (pytest's 5, "no tests collected") is a failure of its own: a test
file can never pass by running nothing.
"""

import os
import sys

import pytest

NO_TESTS_COLLECTED = 5


def main(argv: list) -> int:
    """Runs pytest on ``argv[0]``; returns the exit status."""
    if not argv:
        sys.stderr.write(__doc__)
        return 2
    test_file, rest = argv[0], argv[1:]
    pytest_args = []
    while rest:
        arg = rest.pop(0)
        if arg == "--":
            pytest_args, rest = rest, []
        elif arg.startswith("--env="):
            name, _, path = arg[len("--env=") :].partition("=")
            os.environ[name] = os.path.abspath(path)
        else:
            sys.stderr.write("pytest_runner: unexpected argument %r\n" % arg)
            return 2
    status = int(pytest.main([test_file, "-p", "no:cacheprovider", "-q"] + pytest_args))
    if status == NO_TESTS_COLLECTED:
        sys.stderr.write("pytest_runner: %s has no tests\n" % test_file)
        return 1
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
