"""``python -m twml.saved_model_cli ...``: TensorFlow's ``saved_model_cli`` with the same arguments,
after loading twml's op library; exits with its status."""

import sys

import libtwml.ops  # noqa: F401  (registers twml's ops, which twml's SavedModels use)


def main() -> int:
    """Loads twml's ops, then runs ``tensorflow.python.tools.saved_model_cli.main()``; returns its status."""
    from tensorflow.python.tools import saved_model_cli

    status = saved_model_cli.main()
    return 0 if status is None else int(status)


if __name__ == "__main__":
    sys.exit(main())
