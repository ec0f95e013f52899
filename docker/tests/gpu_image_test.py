"""twml:gpu: TensorFlow's CUDA build with the CUDA and cuDNN libraries loadable in the image, and
batch prediction giving the CPU image's output. On a host without a GPU the job runs on the CPU; on
a host where `nvidia-smi` works the test also sees a GPU in the container and runs the job on it.

Not part of CI (the image is about 6 GB): `tools/bazel test //docker:gpu_image_test` after
`tools/bazel run //docker:build -- --prepare-only gpu` (docker/README.md).
"""

import json
import shutil
import subprocess

import pytest

from docker.tests import container_support as containers
from docker.tests.cpu_image_test import locked_down, manifest_facts, model, outputs  # noqa: F401 - model is a fixture

# The libraries of the nvidia-*-cu12 wheels TensorFlow 2.15.1 loads (by soname).
CUDA_LIBRARIES = [
    "libcudart.so.12",
    "libcublas.so.12",
    "libcublasLt.so.12",
    "libcufft.so.11",
    "libcurand.so.10",
    "libcusolver.so.11",
    "libcusparse.so.12",
    "libcudnn.so.8",
    "libnccl.so.2",
    "libnvJitLink.so.12",
    "libcupti.so.12",
]

CHECK = (
    """
import ctypes, json
import tensorflow as tf
loaded = {}
for name in %r:
    try:
        ctypes.CDLL(name)
        loaded[name] = "ok"
    except OSError as error:
        loaded[name] = str(error)
info = tf.sysconfig.get_build_info()
print(json.dumps({"cuda": tf.test.is_built_with_cuda(), "loaded": loaded, "cuda_version": info.get("cuda_version"),
                  "cudnn_version": info.get("cudnn_version"),
                  "gpus": [d.name for d in tf.config.list_physical_devices("GPU")]}))
"""
    % CUDA_LIBRARIES
)


def host_has_gpu():
    if shutil.which("nvidia-smi") is None:
        return False
    return subprocess.run(["nvidia-smi"], capture_output=True).returncode == 0


def gpu_flags():
    return ["--device", "nvidia.com/gpu=all"] if host_has_gpu() else []


@pytest.fixture(scope="module")
def image():
    return containers.image("gpu")


def test_tensorflow_is_the_cuda_build_and_the_cuda_libraries_load(image):
    result = containers.run(
        ["run", "--rm", "--network", "none"] + gpu_flags() + ["--entrypoint", "python", image, "-c", CHECK]
    )
    facts = json.loads(result.stdout.strip().splitlines()[-1])
    assert facts["cuda"] is True
    assert facts["loaded"] == {name: "ok" for name in CUDA_LIBRARIES}, facts["loaded"]
    assert facts["cuda_version"].startswith("12.") and facts["cudnn_version"].startswith("8")
    if host_has_gpu():
        assert facts["gpus"], "nvidia-smi works on the host but the container sees no GPU"


def test_batch_prediction_in_the_gpu_image_on_the_cpu_equals_the_cpu_image(image, model, tmp_path):  # noqa: F811
    export, held_out = model
    results = {}
    for name, tag in (("cpu", containers.image("cpu")), ("gpu", image)):
        out = containers.writable_folder(str(tmp_path / name))
        containers.run(locked_down(tag, export, held_out, out) + ["--threads", "2"])
        results[name] = outputs(out)
    assert results["gpu"] and results["gpu"] == results["cpu"]


def test_batch_prediction_runs_on_the_gpu_where_there_is_one(image, model, tmp_path):  # noqa: F811
    if not host_has_gpu():
        pytest.skip("no GPU on this host (nvidia-smi)")
    export, held_out = model
    on_cpu = containers.writable_folder(str(tmp_path / "on_cpu"))
    containers.run(locked_down(containers.image("cpu"), export, held_out, on_cpu))
    out = containers.writable_folder(str(tmp_path / "on_gpu"))
    args = locked_down(image, export, held_out, out)
    result = containers.run(args[:1] + gpu_flags() + ["-e", "TF_CPP_MIN_LOG_LEVEL=0"] + args[1:])
    assert "device:GPU:0" in result.stdout + result.stderr
    # GPU arithmetic may differ in the last bits: the same parts with the same records.
    records = {name: facts["records"] for name, facts in manifest_facts(out).items()}
    assert records and records == {name: facts["records"] for name, facts in manifest_facts(on_cpu).items()}
