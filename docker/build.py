"""Builds the runtime images twml:cpu and twml:gpu, offline and reproducibly.

    tools/bazel run //docker:build -- cpu          # or gpu, or all
    tools/bazel run //docker:build -- --prepare-only all   # only what needs the network

The build has two halves. *Prepare* (network): a container engine (podman and runc from Debian
when neither podman nor a running Docker is found), the local base image's root file system
(mmdebstrap from the host's Debian mirror, cached), the Debian packages twml's native code needs
(liblzo2), and for the GPU image its wheelhouse (`pip download` of docker/requirements-gpu.lock).
*Build* (no network): a build context of exactly the image's locked wheels, the twml wheel Bazel
built, the entrypoint and the shipped examples, then `<engine> build --target <cpu|gpu>` of
docker/Dockerfile with build-time timestamps fixed, so that two clean builds of one commit give
the same image ID (podman; `--timestamp 0`).

By default the images start from a local Debian bookworm base made here (no registry is needed);
`--base-image docker.io/library/python:3.11-slim-bookworm@sha256:<digest>` builds on a registry
image instead (the Dockerfile's own default, for `docker build` without this script).
"""

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from typing import Dict, List, Optional, Sequence

DOCKER_DIR = os.path.dirname(os.path.abspath(__file__))
TARGETS = ("cpu", "gpu")
LOCAL_BASE_IMAGE = "localhost/twml-base:bookworm"
# The base's root file system: Debian's minimal variant with the Python the twml wheel is built for.
BASE_SUITE = "bookworm"
BASE_PACKAGES = ("ca-certificates", "python3", "python3-venv")
# Shared libraries twml's native code links that neither base has; installed from .deb files.
SYSTEM_PACKAGES = ("liblzo2-2",)
# A fixed date for every timestamp a build writes (files, image config, the base's packages).
SOURCE_DATE_EPOCH = "0"
BASE_SOURCE_DATE_EPOCH = "1704067200"  # mmdebstrap refuses 0; 2024-01-01
IMAGE_PYTHON = "3.11"


class BuildError(Exception):
    """A build step failed; the message says which and what to do."""


def repo_root() -> str:
    return os.environ.get("BUILD_WORKSPACE_DIRECTORY") or os.path.dirname(DOCKER_DIR)


def cache_dir() -> str:
    default = os.path.join(os.path.expanduser("~"), ".cache", "twml", "containers")
    return os.environ.get("TWML_CONTAINER_CACHE", default)


def log(message: str) -> None:
    print("[docker/build] " + message, flush=True)


def run(command: Sequence[str], env: Optional[Dict[str, str]] = None, capture: bool = False, **kwargs: object) -> str:
    """Runs ``command``; its stdout when ``capture``. Raises BuildError naming the command on failure."""
    result = subprocess.run(list(command), env=env, text=True, stdout=subprocess.PIPE if capture else None, **kwargs)  # type: ignore[call-overload]
    if result.returncode != 0:
        raise BuildError("%s exited with status %d" % (" ".join(command[:3]), result.returncode))
    return result.stdout if capture else ""


# --- the container engine --------------------------------------------------------------------------


class Engine:
    """podman, or docker talking to a running daemon: the command and the environment it needs."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.env = dict(os.environ)
        # The engine runs helpers from the sbin folders (iptables for container networks); test
        # runners and sudo often leave them off PATH.
        path = self.env.get("PATH", "/usr/bin:/bin").split(os.pathsep)
        path += [p for p in ("/usr/local/sbin", "/usr/sbin", "/sbin") if p not in path]
        self.env["PATH"] = os.pathsep.join(path)
        if name == "podman" and "CONTAINERS_CONF" not in self.env:
            self.env["CONTAINERS_CONF"] = os.path.join(DOCKER_DIR, "containers.conf")
        if name == "docker":
            self.env["DOCKER_BUILDKIT"] = "1"  # RUN --mount

    def __call__(self, *args: str, capture: bool = False) -> str:
        return run([self.name] + list(args), env=self.env, capture=capture)

    def image_id(self, image: str) -> Optional[str]:
        result = subprocess.run(
            [self.name, "image", "inspect", "--format", "{{.Id}}", image], env=self.env, text=True, capture_output=True
        )
        return result.stdout.strip() if result.returncode == 0 else None


def _works(command: Sequence[str]) -> bool:
    try:
        return subprocess.run(list(command), capture_output=True, timeout=60).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def find_engine(requested: Optional[str] = None, install: bool = False) -> Engine:
    """podman if installed, else docker if its daemon answers, else (``install``) podman from Debian."""
    for name in [requested] if requested else ["podman", "docker"]:
        if shutil.which(name) and (name == "podman" or _works([name, "info"])):
            if name == "podman" and install:
                install_container_config()
            return Engine(name)
    if requested not in (None, "podman"):
        raise BuildError("%s is not usable here (is its daemon running?)" % requested)
    if not install:
        raise BuildError(
            "no container engine: run `tools/bazel run //docker:build -- --prepare-only cpu` "
            "(installs podman on Debian) or install podman or Docker"
        )
    install_podman()
    return Engine("podman")


def install_podman() -> None:
    """podman and runc from Debian (root), with docker/containers.conf as the system's configuration."""
    if not os.path.exists("/etc/debian_version"):
        raise BuildError("no container engine, and this is not Debian: install podman or Docker")
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    log("installing podman and runc (apt)")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    run(
        sudo
        + [
            "apt-get",
            "install",
            "-y",
            "--no-install-recommends",
            "podman",
            "runc",
            "mmdebstrap",
            "uidmap",
            "fuse-overlayfs",
            "slirp4netns",
            "containernetworking-plugins",
            "iptables",
        ],
        env=env,
    )
    install_container_config()


def install_container_config() -> None:
    """docker/containers.conf as /etc/containers/containers.conf when the system has none (root), so
    that a plain `podman run` works as the build and the tests do."""
    if os.path.exists("/etc/containers/containers.conf") or os.geteuid() != 0:
        return
    run(["install", "-D", "-m", "0644", os.path.join(DOCKER_DIR, "containers.conf"), "/etc/containers/containers.conf"])
    log("installed docker/containers.conf as /etc/containers/containers.conf")


# --- what the build needs from the network (prepare) --------------------------------------------


def debian_mirrors() -> List[str]:
    """The apt source lines for the base: ``$TWML_DEBIAN_MIRROR`` or Debian's own mirror."""
    mirror = os.environ.get("TWML_DEBIAN_MIRROR", "http://deb.debian.org/debian").rstrip("/")
    security = os.environ.get("TWML_DEBIAN_SECURITY_MIRROR", "http://deb.debian.org/debian-security").rstrip("/")
    return [
        "deb %s %s main" % (mirror, BASE_SUITE),
        "deb %s %s-updates main" % (mirror, BASE_SUITE),
        "deb %s %s-security main" % (security, BASE_SUITE),
    ]


def base_tarball(fetch: bool) -> str:
    """The cached root file system of the local base (made with mmdebstrap when ``fetch``)."""
    recipe = json.dumps([BASE_SUITE, BASE_PACKAGES, debian_mirrors(), BASE_SOURCE_DATE_EPOCH])
    path = os.path.join(cache_dir(), "base-%s-%s.tar" % (BASE_SUITE, hashlib.sha256(recipe.encode()).hexdigest()[:12]))
    if os.path.exists(path):
        return path
    if not fetch:
        raise BuildError(
            "the base root file system is not prepared (%s): run `tools/bazel run //docker:build -- "
            "--prepare-only cpu` with network access" % path
        )
    if not shutil.which("mmdebstrap"):
        install_podman()
    log("making the base root file system with mmdebstrap (%s)" % BASE_SUITE)
    os.makedirs(cache_dir(), exist_ok=True)
    partial = path[: -len(".tar")] + ".partial.tar"  # mmdebstrap picks the output format by its extension
    run(
        ["mmdebstrap", "--quiet", "--variant=minbase", "--include=" + ",".join(BASE_PACKAGES), BASE_SUITE, partial]
        + debian_mirrors(),
        env=dict(os.environ, SOURCE_DATE_EPOCH=BASE_SOURCE_DATE_EPOCH),
    )
    os.replace(partial, path)
    return path


def system_debs(fetch: bool) -> str:
    """The folder of cached .deb files of SYSTEM_PACKAGES (apt-get download when ``fetch``)."""
    folder = os.path.join(cache_dir(), "debs")
    have = os.listdir(folder) if os.path.isdir(folder) else []
    missing = [p for p in SYSTEM_PACKAGES if not any(f.startswith(p + "_") for f in have)]
    if missing:
        if not fetch:
            raise BuildError(
                "Debian packages %s are not prepared: run `tools/bazel run //docker:build -- "
                "--prepare-only cpu` with network access" % ", ".join(missing)
            )
        os.makedirs(folder, exist_ok=True)
        log("downloading %s (apt)" % ", ".join(missing))
        run(["apt-get", "download", "-o", "APT::Sandbox::User=root"] + missing, cwd=folder)
    return folder


def locked_packages(lock_file: str) -> List[str]:
    """``name==version`` of every package of a lock file, in file order."""
    with open(lock_file) as f:
        return [m.group(1) for m in (re.match(r"^([A-Za-z0-9_.-]+==[^\s;\\]+)", line) for line in f) if m]


def lock_file(target: str) -> str:
    return os.path.join(DOCKER_DIR, "requirements-%s.lock" % target)


def wheelhouse(target: str, fetch: bool) -> str:
    """The folder holding the target's wheels: the set-up's wheelhouse (cpu) or a downloaded one (gpu)."""
    if target == "cpu":
        folder = os.environ.get("TWML_WHEELHOUSE") or os.path.join(repo_root(), ".venv", "wheelhouse")
        if not os.path.isdir(folder):
            raise BuildError("%s is missing: run README's set-up (tools/bazel) first" % folder)
        return folder
    folder = os.path.join(cache_dir(), "wheelhouse-gpu")
    stamp = os.path.join(folder, ".lock.sha256")
    digest = file_sha256(lock_file(target))
    if os.path.exists(stamp):
        with open(stamp) as f:
            if f.read() == digest:
                return folder
    if not fetch:
        raise BuildError(
            "the GPU wheelhouse is not prepared: run `tools/bazel run //docker:build -- "
            "--prepare-only gpu` with network access (about 2.4 GB)"
        )
    log("downloading the GPU image's wheels (docker/requirements-gpu.lock, about 2.4 GB)")
    os.makedirs(folder, exist_ok=True)
    python = os.path.join(repo_root(), ".venv", "bin", "python")
    run(
        [
            python if os.path.exists(python) else sys.executable,
            "-m",
            "pip",
            "download",
            "--quiet",
            "--no-deps",
            "--require-hashes",
            "--only-binary",
            ":all:",
            "--python-version",
            IMAGE_PYTHON,
            "--platform",
            "manylinux2014_x86_64",
            "--platform",
            "manylinux_2_28_x86_64",
            "--platform",
            "linux_x86_64",
            "-r",
            lock_file(target),
            "-d",
            folder,
        ]
    )
    with open(stamp, "w") as f:
        f.write(digest)
    return folder


def prepare(targets: Sequence[str], engine_name: Optional[str], base_image: Optional[str]) -> Engine:
    """Everything the build needs from the network; afterwards `build` runs offline."""
    engine = find_engine(engine_name, install=True)
    if base_image is None:
        base_tarball(fetch=True)
    system_debs(fetch=True)
    for target in targets:
        wheelhouse(target, fetch=True)
    return engine


# --- the offline build ---------------------------------------------------------------------------


def file_sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def build_local_base(engine: Engine, no_cache: bool) -> str:
    """``localhost/twml-base:bookworm`` from the cached root file system (``FROM scratch``, timestamps 0)."""
    if not no_cache and engine.image_id(LOCAL_BASE_IMAGE):
        return LOCAL_BASE_IMAGE
    tarball = base_tarball(fetch=False)
    with tempfile.TemporaryDirectory(prefix="twml-base-", dir=cache_dir()) as context:
        _link_or_copy(tarball, os.path.join(context, "rootfs.tar"))
        with open(os.path.join(context, "Dockerfile"), "w") as f:
            f.write('FROM scratch\nADD rootfs.tar /\nCMD ["/bin/bash"]\n')
        log("building %s" % LOCAL_BASE_IMAGE)
        engine("build", "--quiet", *_reproducible_flags(engine, no_cache=True), "-t", LOCAL_BASE_IMAGE, context)
    return LOCAL_BASE_IMAGE


def _link_or_copy(source: str, destination: str) -> None:
    try:
        os.link(source, destination)
    except OSError:
        shutil.copy2(source, destination)


def _reproducible_flags(engine: Engine, no_cache: bool) -> List[str]:
    # No network inside the build: everything comes from the context.
    flags = ["--no-cache"] if no_cache else []
    flags += ["--network=none", "--build-arg", "SOURCE_DATE_EPOCH=" + SOURCE_DATE_EPOCH]
    if engine.name == "podman":
        flags += ["--pull=never", "--timestamp", SOURCE_DATE_EPOCH]
    return flags


def make_context(target: str, wheel: str, folder: str) -> None:
    """Lays out the build context in ``folder``: context/common (all targets) and context/<target>."""
    common = os.path.join(folder, "context", "common")
    os.makedirs(os.path.join(common, "examples", "tools", "light_ranker"))
    shutil.copy(os.path.join(DOCKER_DIR, "twml_container.py"), os.path.join(common, "twml-container"))
    os.chmod(os.path.join(common, "twml-container"), 0o755)
    examples = os.path.join(repo_root(), "tools", "light_ranker")
    for name in sorted(os.listdir(examples)):
        if name.endswith(".py") and not name.endswith("_test.py"):
            shutil.copy(os.path.join(examples, name), os.path.join(common, "examples", "tools", "light_ranker", name))
    os.makedirs(os.path.join(common, "debs"))
    debs = system_debs(fetch=False)
    for name in sorted(os.listdir(debs)):
        _link_or_copy(os.path.join(debs, name), os.path.join(common, "debs", name))

    # context/<target>/packages (the locked wheels) and context/<target>/twml (the wheel) are mounted
    # by separate steps, so that the packages' layer stays cached while twml changes.
    own = os.path.join(folder, "context", target, "packages")
    os.makedirs(os.path.join(own, "wheelhouse"))
    shutil.copy(lock_file(target), os.path.join(own, "requirements.lock"))
    os.makedirs(os.path.join(folder, "context", target, "twml"))
    shutil.copy(wheel, os.path.join(folder, "context", target, "twml", os.path.basename(wheel)))
    wanted = {normalize_requirement(p) for p in locked_packages(lock_file(target))}
    source = wheelhouse(target, fetch=False)
    found = set()
    for name in sorted(os.listdir(source)):
        if name.endswith(".whl"):
            key = normalize_requirement("==".join(name.split("-")[:2]))
            if key in wanted:
                found.add(key)
                _link_or_copy(os.path.join(source, name), os.path.join(own, "wheelhouse", name))
    if wanted - found:
        raise BuildError(
            "the wheelhouse %s lacks %s (rerun the set-up / --prepare-only %s)"
            % (source, ", ".join(sorted(wanted - found)), target)
        )
    shutil.copy(os.path.join(DOCKER_DIR, "Dockerfile"), os.path.join(folder, "Dockerfile"))


def normalize_requirement(requirement: str) -> str:
    """``name==version`` in PEP 503 form (lower case, runs of ``-_.`` as ``-``), to compare spellings."""
    name, version = requirement.split("==")
    return re.sub(r"[-_.]+", "-", name).lower() + "==" + version.lower()


def git_revision() -> str:
    """The commit the image is built from: ``$TWML_REVISION`` if set, else the checkout's HEAD."""
    if os.environ.get("TWML_REVISION"):
        return os.environ["TWML_REVISION"]
    try:
        revision = run(["git", "-C", repo_root(), "rev-parse", "HEAD"], capture=True, stderr=subprocess.DEVNULL)
    except (BuildError, OSError):
        return "unknown"
    return revision.strip()


def build_args(target: str, wheel: str) -> List[str]:
    version = os.path.basename(wheel).split("-")[1]
    values = {
        "TWML_VERSION": version,
        "TWML_REVISION": git_revision(),
        "TWML_LOCK_SHA256": file_sha256(lock_file(target)),
        "TWML_PACKAGES": ",".join(locked_packages(lock_file(target)) + ["twml==" + version]),
    }
    return [arg for name, value in sorted(values.items()) for arg in ("--build-arg", "%s=%s" % (name, value))]


def build(
    target: str, wheel: str, engine: Engine, base_image: Optional[str] = None, tag: str = "twml", no_cache: bool = False
) -> str:
    """Builds ``<tag>:<target>`` offline; returns its image ID."""
    base = base_image or build_local_base(engine, no_cache)
    image = "%s:%s" % (tag, target)
    previous = engine.image_id(image)
    with tempfile.TemporaryDirectory(prefix="twml-image-", dir=cache_dir()) as folder:
        make_context(target, wheel, folder)
        log("building %s on %s" % (image, base))
        engine(
            "build",
            *_reproducible_flags(engine, no_cache),
            "--build-arg",
            "BASE_IMAGE=" + base,
            *build_args(target, wheel),
            "--target",
            target,
            "-t",
            image,
            "-f",
            os.path.join(folder, "Dockerfile"),
            folder,
        )
    image_id = engine.image_id(image) or ""
    log("built %s (%s)" % (image, image_id[:19]))
    if previous and previous != image_id:
        # The image this build replaced, now untagged: gigabytes nobody can name any more.
        subprocess.run([engine.name, "rmi", previous], env=engine.env, capture_output=True)
    return image_id


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("target", choices=TARGETS + ("all",), help="the image to build")
    parser.add_argument(
        "--prepare-only",
        action="store_true",
        help="fetch what the build needs (engine, base, .debs, GPU wheels) and stop",
    )
    parser.add_argument("--engine", choices=("podman", "docker"), help="default: podman if present, else docker")
    parser.add_argument("--base-image", help="a registry base image (default: a local bookworm base made here)")
    parser.add_argument("--tag", default="twml", help="image name; the target is the tag (default: twml)")
    parser.add_argument("--no-cache", action="store_true", help="rebuild every layer, the local base too")
    parser.add_argument("--wheel", help=argparse.SUPPRESS)  # the twml wheel; //docker:build passes it
    params = parser.parse_args(argv)
    targets = TARGETS if params.target == "all" else (params.target,)
    try:
        os.makedirs(cache_dir(), exist_ok=True)
        engine = prepare(targets, params.engine, params.base_image)
        if params.prepare_only:
            log("prepared: %s (engine %s)" % (", ".join(targets), engine.name))
            return 0
        if not params.wheel or not os.path.exists(params.wheel):
            raise BuildError("the twml wheel is missing: run through `tools/bazel run //docker:build`")
        for target in targets:
            build(target, os.path.abspath(params.wheel), engine, params.base_image, params.tag, params.no_cache)
    except BuildError as error:
        print("docker/build: %s" % error, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
