"""twml_py_test: a py_test that runs pytest on one test file (tools/build_defs/pytest_runner.py is its main).

Test files need no `if __name__ == "__main__"` trailer. A test file without tests fails.

    twml_py_test(
        name = "util_test",
        src = "tests/util_test.py",      # default: "<name>.py"
        deps = [":twml"],
        env_paths = {"TWML_TEST_WHEEL": "//:twml_wheel"},   # NAME -> absolute path of the label's file
        pytest_args = ["-s"],             # more pytest arguments
        size = "medium",                  # and any other py_test attribute
    )
"""

_RUNNER = "//tools/build_defs:pytest_runner.py"

def twml_py_test(name, src = None, deps = [], data = [], env_paths = {}, pytest_args = [], **kwargs):
    """A py_test named `name` running pytest on `src` (default "<name>.py")."""
    src = src or name + ".py"
    args = ["$(rootpath %s)" % src]
    for variable, label in env_paths.items():
        args.append("--env=%s=$(rootpath %s)" % (variable, label))
    if pytest_args:
        args += ["--"] + pytest_args
    native.py_test(
        name = name,
        srcs = [src, _RUNNER],
        main = _RUNNER,
        args = args,
        data = data + [label for label in env_paths.values() if label not in data],
        deps = deps,
        **kwargs
    )
