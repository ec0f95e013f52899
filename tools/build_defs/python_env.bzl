"""Repository rule `python_env`: the pinned Python environment as Bazel targets.

It runs probe_python_env.py with $TWML_PYTHON (set by tools/bazel; else python3 on PATH) and
generates a repository with:
  :tf_headers        TensorFlow's headers, with TensorFlow's own compile defines
  :tf_framework      libtensorflow_framework, to link custom-op libraries against
  :python_headers    the interpreter's headers
  :pybind11          pybind11's headers (plus :python_headers)
  :python_toolchain  a Python toolchain running that interpreter
  python_env.json    the probed facts (paths, versions), for tests that need them
  versions.bzl       PYTHON_VERSION, TF_VERSION, EXTENSION_SUFFIX for BUILD files
The rule re-runs when TWML_PYTHON or requirements.lock changes.
"""

def _python_env_impl(ctx):
    python = ctx.os.environ.get("TWML_PYTHON") or ctx.which("python3")
    if not python:
        fail("no Python interpreter: run Bazel through tools/bazel, which sets TWML_PYTHON")
    probe = ctx.path(Label("//tools/build_defs:probe_python_env.py"))
    ctx.path(Label("//:requirements.lock"))  # watched: a new lock means a new environment
    result = ctx.execute([python, probe], quiet = True)
    if result.return_code != 0:
        fail("probing the Python environment %s failed:\n%s" % (python, result.stderr))
    env = json.decode(result.stdout)

    ctx.symlink(env["tf_include"], "tf_include")
    ctx.symlink(env["python_include"], "python_include")
    ctx.symlink(env["pybind11_include"], "pybind11_include")
    framework_name = env["tf_framework_library"].split("/")[-1]
    ctx.symlink(env["tf_framework_library"], "lib/" + framework_name)
    ctx.file("python_env.json", result.stdout)
    ctx.file("versions.bzl", "\n".join([
        "PYTHON_VERSION = %r" % env["python_version"],
        "TF_VERSION = %r" % env["tf_version"],
        "EXTENSION_SUFFIX = %r" % env["extension_suffix"],
        "",
    ]))
    ctx.template("BUILD.bazel", Label("//tools/build_defs:python_env.BUILD.tpl"), {
        "%{python}": env["python"],
        "%{tf_defines}": repr(env["tf_defines"]),
        "%{tf_framework}": "lib/" + framework_name,
    })

python_env = repository_rule(
    implementation = _python_env_impl,
    environ = ["TWML_PYTHON", "PATH"],
    local = True,
)
