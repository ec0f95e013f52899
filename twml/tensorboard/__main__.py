"""``python -m twml.tensorboard ...``: runs TensorBoard with the same arguments and exits with its status.

As the original: the ``werkzeug`` logger is set to WARNING and a trailing ``-script.py``,
``-script.pyw`` or ``.exe`` is stripped from ``argv[0]`` (TensorBoard names itself after it).
"""

import logging
import re
import sys


def main() -> int:
    """Runs ``tensorboard.main.run_main()`` on ``sys.argv``; returns its exit status."""
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    sys.argv[0] = re.sub(r"(-script\.pyw?|\.exe)?$", "", sys.argv[0])
    from tensorboard.main import run_main

    return run_main()


if __name__ == "__main__":
    sys.exit(main())
