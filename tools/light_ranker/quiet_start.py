"""Imported first by the examples' entry points, before anything loads TensorFlow.

TensorFlow's C++ logging reads ``TF_CPP_MIN_LOG_LEVEL`` once, when TensorFlow loads (its oneDNN and
CPU-feature INFO lines come at import), and tensorflow_hub warns about ``pkg_resources`` when it is
imported: ``twml.console.configure`` runs too late for either. Without ``--verbose`` on the command
line: C++ INFO lines off (level 1, unless the environment sets a level) and that warning hidden;
with ``--verbose``: both kept (level 0 unless the environment sets one).
"""

import os
import sys
import warnings

VERBOSE = "--verbose" in sys.argv[1:]

if VERBOSE:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "0")
else:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")
    warnings.filterwarnings("ignore", message="pkg_resources is deprecated as an API", category=UserWarning)
