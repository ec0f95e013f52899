"""Describe the pinned Python environment for the `python_env` repository rule.

Run with the environment's interpreter; prints one JSON object with the paths and flags the C++
build needs. Everything version-specific (TensorFlow's ABI defines, its framework library's name,
the Python include directory) is read here, so moving the pins is a lock-file change.
"""

import json
import os
import sys
import sysconfig


def _framework_library(lib_dir: str, link_flags: list) -> str:
    for flag in link_flags:
        if flag.startswith("-l:"):
            return os.path.join(lib_dir, flag[3:])
    raise SystemExit("cannot find TensorFlow's framework library in its link flags %r" % link_flags)


def main() -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    try:
        import pybind11
        import tensorflow as tf
    except ImportError as error:
        raise SystemExit(
            "%s has no %s: run tools/bazel, which prepares the pinned environment" % (sys.executable, error.name)
        ) from error

    compile_flags = tf.sysconfig.get_compile_flags()
    link_flags = tf.sysconfig.get_link_flags()
    venv = sys.prefix
    json.dump(
        {
            "python": sys.executable,
            "base_python": getattr(sys, "_base_executable", sys.executable),
            "python_version": "%d.%d" % sys.version_info[:2],
            "python_include": sysconfig.get_paths()["include"],
            "extension_suffix": sysconfig.get_config_var("EXT_SUFFIX"),
            "pybind11_include": pybind11.get_include(),
            "tf_version": tf.__version__,
            "tf_include": tf.sysconfig.get_include(),
            "tf_defines": [flag[2:] for flag in compile_flags if flag.startswith("-D")],
            "tf_framework_library": _framework_library(tf.sysconfig.get_lib(), link_flags),
            "wheelhouse": os.path.join(venv, "wheelhouse"),
        },
        sys.stdout,
        indent=1,
        sort_keys=True,
    )


if __name__ == "__main__":
    main()
