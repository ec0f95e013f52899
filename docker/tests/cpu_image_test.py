"""twml:cpu under a real engine: batch prediction in a locked-down container equals the host's run
byte for byte, a killed container's rerun completes the output exactly once, and the image holds
what it says (packages, user, entrypoint, no compilers).

Inputs: the main job's export and held-out files when CI passes them (TWML_TEST_EXPORT,
TWML_TEST_EVAL); otherwise a small light-ranker model trained here first.
"""

import glob
import json
import os
import re
import subprocess
import time

import pytest

from docker import build
from docker.tests import container_support as containers
from tools.light_ranker import synthetic_data


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    """(export dir, held-out data dir)."""
    export, held_out = os.environ.get("TWML_TEST_EXPORT"), os.environ.get("TWML_TEST_EVAL")
    if export and held_out:
        return export, held_out
    root = tmp_path_factory.mktemp("light_ranker")
    subprocess.run(
        [
            containers.python(),
            "-m",
            "tools.light_ranker.train",
            "--save_dir",
            str(root / "model"),
            "--data_cache_dir",
            str(root / "data"),
            "--num_train_records",
            "20000",
            "--train.max_steps",
            "200",
            "--auc_tolerance",
            "1",
            "--disable_experiment_tracking",
        ],
        check=True,
        timeout=900,
        capture_output=True,
    )
    (export,) = glob.glob(str(root / "model" / "exported_models" / "[0-9]*"))
    (held_out,) = glob.glob(str(root / "data" / "*" / "eval"))
    return export, held_out


@pytest.fixture(scope="module")
def image():
    return containers.image("cpu")


def host_batch_predict(export, inputs, output, *flags):
    result = subprocess.run(
        [
            containers.python(),
            "-m",
            "twml.batch_prediction_job",
            "--export_dir",
            export,
            "--input",
            inputs,
            "--output_dir",
            output,
        ]
        + list(flags),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return summary_of(result.stdout + result.stderr)


def summary_of(output):
    (line,) = [line for line in output.splitlines() if line.startswith("twml-batch-predict summary: ")]
    return json.loads(line.split(": ", 1)[1])


def locked_down(image, export, inputs, output, name=None):
    """`run` arguments of a batch-prediction container: no network, read-only root, unprivileged,
    the model and the input mounted read-only."""
    args = [
        "run",
        "--network",
        "none",
        "--read-only",
        "--user",
        "%d:%d" % (containers.IMAGE_UID, containers.IMAGE_UID),
        "-v",
        "%s:/data/export:ro" % export,
        "-v",
        "%s:/data/in:ro" % inputs,
        "-v",
        "%s:/data/out" % output,
    ]
    args += ["--name", name] if name else ["--rm"]
    return args + [
        image,
        "batch-predict",
        "--export_dir",
        "/data/export",
        "--input",
        "/data/in",
        "--output_dir",
        "/data/out",
    ]


def outputs(folder):
    """{relative path: bytes} of the prediction parts (the manifests name host or container paths)."""
    return {
        os.path.relpath(path, folder): open(path, "rb").read()
        for path in sorted(glob.glob(os.path.join(folder, "part-*")))
    }


def manifest_facts(folder):
    facts = {}
    for path in sorted(glob.glob(os.path.join(folder, "_manifests", "*.json"))):
        manifest = json.load(open(path))
        facts[os.path.basename(path)] = {k: manifest[k] for k in ("part", "records", "output_sha256", "output_bytes")}
    return facts


def test_batch_prediction_in_the_container_equals_the_host_run(model, image, tmp_path):
    export, held_out = model
    host_out = str(tmp_path / "host")
    host = host_batch_predict(export, held_out, host_out, "--threads", "2")
    out = containers.writable_folder(str(tmp_path / "container"))
    result = containers.run(locked_down(image, export, held_out, out) + ["--threads", "2"])
    container = summary_of(result.stdout + result.stderr)
    assert container["success"] and container["records"] == host["records"] > 0
    assert os.path.exists(os.path.join(out, "_SUCCESS"))
    assert outputs(out) and outputs(out) == outputs(host_out)
    assert manifest_facts(out) == manifest_facts(host_out)


def test_a_killed_container_reruns_to_complete_output_exactly_once(image, model, tmp_path):
    export, _ = model
    inputs = str(tmp_path / "in")
    synthetic_data.write_dataset(inputs, num_files=24, records_per_file=2000, seed=7, compression="lzo")
    reference = str(tmp_path / "reference")
    host_batch_predict(export, inputs, reference, "--threads", "1", "--batch_size", "64")
    out = containers.writable_folder(str(tmp_path / "out"))
    args = locked_down(image, export, inputs, out)
    with containers.container_name("twml-kill-test") as name:
        detached = locked_down(image, export, inputs, out, name=name)
        containers.run(detached[:1] + ["--detach"] + detached[1:] + ["--threads", "1", "--batch_size", "64"])
        manifests = os.path.join(out, "_manifests")
        containers.run(["wait", "--condition", "running", name], timeout=120)
        deadline = time.time() + 120
        while not glob.glob(os.path.join(manifests, "*.json")):
            assert time.time() < deadline, "no part was committed within 120 s"
            state = containers.run(["inspect", "--format", "{{.State.Status}}", name]).stdout.strip()
            assert state == "running", (
                "the job stopped before committing a part: %s"
                % containers.run(["logs", name], check=False).stderr[-3000:]
            )
        containers.run(["kill", name])
        containers.run(["wait", name], check=False)
    committed = len(glob.glob(os.path.join(manifests, "*.json")))
    assert not os.path.exists(os.path.join(out, "_SUCCESS")), "the job finished before the kill: enlarge the input"
    assert 0 < committed < 24
    rerun = containers.run(args + ["--threads", "1", "--batch_size", "64"])
    summary = summary_of(rerun.stdout + rerun.stderr)
    assert summary["success"] and summary["parts_already_done"] >= committed
    assert summary["parts_written"] + summary["parts_already_done"] == 24
    assert outputs(out) == outputs(reference)
    leftovers = set(os.listdir(out)) - set(outputs(out)) - {"_manifests", "_SUCCESS"}
    assert not leftovers, "the killed run left %s" % leftovers


def test_the_image_records_its_packages_and_revision(image):
    labels = json.loads(containers.run(["image", "inspect", "--format", "{{json .Config.Labels}}", image]).stdout)
    lock = build.lock_file("cpu")
    assert labels["io.twml.lock.sha256"] == build.file_sha256(lock)
    assert re.match(r"^[0-9a-f]{40}$", labels["org.opencontainers.image.revision"])
    packages = set(labels["io.twml.packages"].split(","))
    assert packages == set(build.locked_packages(lock)) | {"twml==" + labels["org.opencontainers.image.version"]}
    inside = containers.run(
        ["run", "--rm", "--network", "none", "--entrypoint", "cat", image, "/opt/twml/manifest.txt"]
    ).stdout.split()
    locked = {build.normalize_requirement(p) for p in packages}
    installed = {build.normalize_requirement(p) for p in inside}
    # Exactly the lock and twml, plus the pip the virtual environment came with.
    assert {p for p in installed if not p.startswith("pip==")} == locked


def test_the_image_runs_unprivileged_without_compilers_or_caches(image):
    script = (
        "id -u; for tool in gcc cc g++ c++ clang make; do command -v $tool && echo FOUND; done; "
        "ls -A /root/.cache /home/twml/.cache /tmp 2>/dev/null | grep -v '^/' || true"
    )
    result = containers.run(["run", "--rm", "--network", "none", "--entrypoint", "/bin/bash", image, "-c", script])
    assert result.stdout.split()[0] == str(containers.IMAGE_UID)
    assert "FOUND" not in result.stdout, result.stdout
    as_root = containers.run(
        [
            "run",
            "--rm",
            "--network",
            "none",
            "--user",
            "0",
            "--entrypoint",
            "/bin/bash",
            image,
            "-c",
            "find /root /home/twml /tmp -mindepth 1 -not -name '.bash*' -not -name '.profile'",
        ]
    )
    assert as_root.stdout.strip() == "", "files left by the build: %s" % as_root.stdout


@pytest.mark.parametrize(
    "args, status",
    [
        ([], 0),
        (["--help"], 0),
        (["records", "--help"], 0),
        (["runs", "--help"], 0),
        (["train", "light_ranker", "--help"], 0),
        (["nonsense"], 2),
        (["batch-predict", "--export_dir", "/nowhere", "--input", "/nothing", "--output_dir", "/tmp/out"], 2),
    ],
)
def test_the_entrypoint_dispatches_and_returns_the_commands_status(image, args, status):
    result = containers.run(["run", "--rm", "--network", "none", image] + args, check=False, timeout=300)
    assert result.returncode == status, result.stdout + result.stderr
