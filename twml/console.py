"""The console of twml's commands: one logging set-up, each message once, TensorFlow's noise off.

TensorFlow logs through its own ``tensorflow`` logger, which has a handler of its own and also
passes every record on to the root logger: once a command configures the root logger, each of
TensorFlow's messages prints twice. Its deprecation notices (dozens in a training run, about its
own v1 API that twml is built on) say nothing a twml user can act on. :func:`configure` routes
TensorFlow's messages through the one root handler and, unless ``verbose``, drops the deprecation
notices and TensorFlow's C++ INFO lines; twml's own INFO lines (progress, metrics, export paths,
plots) stay.
"""

import logging
import os
import sys
from typing import Optional, TextIO

_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
_DEPRECATION_MARKERS = ("is deprecated and will be removed", "Instructions for updating", "is deprecated.")


class _WithoutDeprecationNotices(logging.Filter):
    """Drops TensorFlow's deprecation notices (the records of its ``tensorflow`` logger saying so)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.name.startswith("tensorflow"):
            return True
        message = record.getMessage()
        return not any(marker in message for marker in _DEPRECATION_MARKERS)


def configure(verbose: bool = False, stream: Optional[TextIO] = None, level: int = logging.INFO) -> None:
    """Installs the console of a twml command (call it once, first thing in ``main``).

    Args:
      verbose: keep TensorFlow's deprecation notices and C++ INFO lines.
      stream: where messages go (default stderr).
      level: the root logger's level.
    """
    if not verbose:
        # Read by TensorFlow's C++ logging; effective for what it logs from now on.
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_twml_console", False):
            root.removeHandler(handler)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(logging.Formatter(_FORMAT))
    handler._twml_console = True  # type: ignore[attr-defined]
    if not verbose:
        handler.addFilter(_WithoutDeprecationNotices())
    root.addHandler(handler)
    root.setLevel(level)
    # TensorFlow's messages reach the console once: through the root handler only.
    tf_logger = logging.getLogger("tensorflow")
    for tf_handler in list(tf_logger.handlers):
        tf_logger.removeHandler(tf_handler)
    tf_logger.propagate = True
    tf_logger.setLevel(logging.INFO if verbose else logging.WARNING)
