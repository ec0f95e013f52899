"""Two clean builds of twml:cpu from one tree give the same image ID.

Each build runs in a fresh, private image store (nothing cached, the local base made again from its
root-file-system tarball), so that only what the tree and the prepared cache hold can shape it.
"""

import os
import subprocess

import pytest

from docker import build
from docker.tests import container_support as containers

STORAGE_CONF = """\
[storage]
driver = "overlay"
graphroot = "{root}/graph"
runroot = "{root}/run"
"""


def clean_build(root):
    """The image ID of a --no-cache build of twml:cpu in a new image store under ``root``."""
    os.makedirs(root)
    conf = os.path.join(root, "storage.conf")
    with open(conf, "w") as f:
        f.write(STORAGE_CONF.format(root=root))
    os.environ["CONTAINERS_STORAGE_CONF"] = conf
    engine = build.find_engine("podman")
    try:
        image_id = build.build("cpu", containers.wheel(), engine, tag="twml-reproducibility", no_cache=True)
        assert image_id, "the build made no image"
        return image_id
    finally:
        subprocess.run(["podman", "system", "reset", "--force"], env=dict(engine.env), capture_output=True)
        del os.environ["CONTAINERS_STORAGE_CONF"]


def test_two_clean_builds_give_the_same_image_id(tmp_path):
    if containers.engine().name != "podman":
        pytest.skip(
            "image IDs are reproducible with podman's --timestamp; this host's engine is %s" % containers.engine().name
        )
    # One commit for both builds, even if the checkout moves on while they run.
    os.environ["TWML_REVISION"] = build.git_revision()
    first = clean_build(str(tmp_path / "first"))
    second = clean_build(str(tmp_path / "second"))
    assert first == second, "two clean builds differ: %s vs %s" % (first, second)
