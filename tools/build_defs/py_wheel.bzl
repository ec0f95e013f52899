"""py_wheel: package Python libraries of this workspace, with their data files, as a wheel.

Bazel 4 offline has no rules_python, so this rule collects the files itself: every source and
data file in the runfiles of `deps` that belongs to this workspace goes into the wheel at its
workspace-relative path (after removing the first matching `strip_path_prefixes` entry). The
metadata requires `runtime_requirements` at the exact versions pinned in `lock_file`.
"""

def _is_packaged(file):
    # Files of other repositories, and the symlinks Bazel makes for linking against shared
    # libraries (TensorFlow's framework library lives in the user's TensorFlow), stay out.
    return not file.short_path.startswith("../") and not file.short_path.startswith("_solib_")

def _py_wheel_impl(ctx):
    python_tag = "cp" + ctx.attr.python_version.replace(".", "")
    wheel = ctx.actions.declare_file("%s-%s-%s-%s-linux_x86_64.whl" % (
        ctx.attr.distribution,
        ctx.attr.version,
        python_tag,
        python_tag,
    ))
    files = depset(transitive = [dep[DefaultInfo].default_runfiles.files for dep in ctx.attr.deps])
    own_files = [f for f in files.to_list() if _is_packaged(f)]

    manifest = ctx.actions.declare_file(ctx.label.name + ".manifest")
    ctx.actions.write(manifest, "".join(["%s\t%s\n" % (f.short_path, f.path) for f in own_files]))

    args = ctx.actions.args()
    args.add("--output", wheel)
    args.add("--manifest", manifest)
    args.add("--distribution", ctx.attr.distribution)
    args.add("--version", ctx.attr.version)
    args.add("--python_tag", python_tag)
    args.add("--lock_file", ctx.file.lock_file)
    args.add_all(ctx.attr.runtime_requirements, before_each = "--requirement")
    args.add_all(ctx.attr.strip_path_prefixes, before_each = "--strip_path_prefix")
    args.add_all(["%s=%s" % item for item in sorted(ctx.attr.console_scripts.items())], before_each = "--console_script")
    ctx.actions.run(
        executable = ctx.executable._builder,
        arguments = [args],
        inputs = own_files + [manifest, ctx.file.lock_file],
        outputs = [wheel],
        mnemonic = "PyWheel",
        progress_message = "Packaging %s" % wheel.short_path,
    )
    return [DefaultInfo(files = depset([wheel]), runfiles = ctx.runfiles(files = [wheel]))]

py_wheel = rule(
    implementation = _py_wheel_impl,
    attrs = {
        "deps": attr.label_list(mandatory = True, doc = "py_library targets to package"),
        "distribution": attr.string(mandatory = True),
        "version": attr.string(mandatory = True),
        "python_version": attr.string(mandatory = True, doc = "e.g. '3.11': the wheel's cpXY tag"),
        "lock_file": attr.label(allow_single_file = True, mandatory = True),
        "runtime_requirements": attr.string_list(doc = "distribution names pinned from lock_file"),
        "strip_path_prefixes": attr.string_list(),
        "console_scripts": attr.string_dict(doc = "command name -> 'module:function'"),
        "_builder": attr.label(
            default = "//tools/build_defs:build_wheel",
            executable = True,
            cfg = "exec",
        ),
    },
)
