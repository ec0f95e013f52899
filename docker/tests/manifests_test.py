"""docker/compose.yaml and docker/k8s/*.yaml: parsed, their images named, each container's
arguments accepted by the real parser of the command the entrypoint runs, TF_CONFIG roles consistent."""

import contextlib
import json
import os
import re

import pytest
import yaml

from docker import twml_container
from tools.light_ranker import common as light_ranker
from twml import batch_prediction_job
from twml.trainers import cluster

DOCKER_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
IMAGES = {"twml:cpu", "twml:gpu", "localhost/twml:cpu"}


def load(name):
    with open(os.path.join(DOCKER_DIR, name)) as f:
        return yaml.safe_load(f)


def interpolate(text, values=None):
    """Compose's ${NAME:-default} with an empty environment (or ``values``)."""
    values = values or {}
    return re.sub(r"\$\{(\w+):-([^}]*)\}", lambda m: values.get(m.group(1), m.group(2)), text)


@contextlib.contextmanager
def environment(**values):
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update({name: value for name, value in values.items()})
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def check_arguments(args):
    """Parses the arguments with the parser of the command twml-container runs for them."""
    command = twml_container.command_for(args, python="python")
    if command[0] == "twml-batch-predict":
        return batch_prediction_job.build_parser().parse_args(command[1:])
    assert command[:3] == ["python", "-m", "tools.light_ranker.train"], command
    return light_ranker.parse_args(light_ranker.get_parser("light ranker"), command[3:])


# --- compose -------------------------------------------------------------------------------------


def compose_tasks():
    services = load("compose.yaml")["services"]
    return {name: json.loads(interpolate(service["environment"]["TF_CONFIG"])) for name, service in services.items()}


def test_compose_has_one_service_per_role_on_the_host_network_with_a_shared_volume():
    services = load("compose.yaml")["services"]
    assert set(services) == {"ps", "chief", "worker", "evaluator"}
    for service in services.values():
        assert interpolate(service["image"]) in IMAGES
        assert service["network_mode"] == "host"
        assert [interpolate(v) for v in service["volumes"]] == ["./twml-data:/data"]
        assert service["environment"]["TWML_EXPERIMENT_DB"].startswith("/data/")
        params = check_arguments(service["command"])
        assert params.save_dir == "/data/model" and params.data_cache_dir == "/data/cache"


def test_compose_tf_configs_agree_and_name_each_service_its_role():
    tasks = compose_tasks()
    clusters = {json.dumps(config["cluster"], sort_keys=True) for config in tasks.values()}
    assert len(clusters) == 1, "the services disagree on the cluster: %s" % clusters
    spec = tasks["chief"]["cluster"]
    addresses = [address for role in spec.values() for address in role]
    assert all(address.startswith("127.0.0.1:") for address in addresses)
    assert len(set(addresses)) == len(addresses)
    for name, config in tasks.items():
        assert config["task"] == {"type": name, "index": 0}
        if name != "evaluator":  # the evaluator is outside the cluster spec, as tf.estimator wants it
            assert name in spec
        with environment(TF_CONFIG=json.dumps(config)):
            assert cluster.is_chief() == (name == "chief")
            assert cluster.is_evaluator() == (name == "evaluator")


def test_compose_ports_follow_the_settings():
    services = load("compose.yaml")["services"]
    config = json.loads(interpolate(services["worker"]["environment"]["TF_CONFIG"], {"TWML_WORKER_PORT": "31000"}))
    assert config["cluster"]["worker"] == ["127.0.0.1:31000"]


# --- Kubernetes -----------------------------------------------------------------------------------


def test_the_indexed_job_gives_each_pod_its_shard():
    job = load("k8s/batch-prediction.yaml")
    assert job["apiVersion"] == "batch/v1" and job["kind"] == "Job"
    spec = job["spec"]
    assert spec["completionMode"] == "Indexed" and spec["template"]["spec"]["restartPolicy"] == "Never"
    (container,) = spec["template"]["spec"]["containers"]
    assert container["image"] in IMAGES
    params = check_arguments(container["args"])
    assert params.num_shards == spec["completions"], "--num_shards must equal completions"
    assert params.shard_index is None, "the shard must come from JOB_COMPLETION_INDEX"
    shards = set()
    for index in range(spec["completions"]):
        with environment(JOB_COMPLETION_INDEX=str(index)):
            shards.add(batch_prediction_job.shard_index_from_env(params.shard_index))
    assert shards == set(range(params.num_shards))
    mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
    for flag in ("export_dir", "output_dir"):
        path = getattr(params, flag)
        assert any(path.startswith(mount + "/") for mount in mounts), "--%s %s is on no volume" % (flag, path)
    assert mounts["/models"]["readOnly"] and mounts["/data"]["readOnly"] and not mounts["/predictions"].get("readOnly")
    assert container["securityContext"]["readOnlyRootFilesystem"] and "/tmp" in mounts


def operator_tf_configs(tfjob):
    """The TF_CONFIG the Kubeflow training operator writes for each replica (the evaluator is not
    in the cluster spec)."""
    specs = tfjob["spec"]["tfReplicaSpecs"]
    spec = {
        role.lower(): [
            "%s-%s-%d:2222" % (tfjob["metadata"]["name"], role.lower(), i) for i in range(replicas["replicas"])
        ]
        for role, replicas in specs.items()
        if role != "Evaluator"
    }
    return {
        (role.lower(), i): {"cluster": spec, "task": {"type": role.lower(), "index": i}}
        for role, replicas in specs.items()
        for i in range(replicas["replicas"])
    }


def test_the_tfjob_roles_images_and_arguments():
    tfjob = load("k8s/training-tfjob.yaml")
    assert tfjob["apiVersion"] == "kubeflow.org/v1" and tfjob["kind"] == "TFJob"
    specs = tfjob["spec"]["tfReplicaSpecs"]
    assert set(specs) == {"PS", "Chief", "Worker", "Evaluator"}
    assert specs["Chief"]["replicas"] == 1 and specs["Evaluator"]["replicas"] == 1 and specs["PS"]["replicas"] >= 1
    save_dirs = set()
    for role, replicas in specs.items():
        (container,) = replicas["template"]["spec"]["containers"]
        assert container["name"] == "tensorflow"  # the operator's convention
        gpus = container.get("resources", {}).get("limits", {}).get("nvidia.com/gpu")
        if role in ("Chief", "Worker"):
            assert container["image"] == "twml:gpu" and gpus == 1
        else:
            assert container["image"] == "twml:cpu" and gpus is None
        params = check_arguments(container["args"])
        save_dirs.add(params.save_dir)
        mounts = [m["mountPath"] for m in container["volumeMounts"]]
        assert any(params.save_dir.startswith(m + "/") for m in mounts)
    assert len(save_dirs) == 1, "every replica must share one save_dir"


def test_the_tfjob_tf_configs_give_one_chief_and_the_roles_twml_expects():
    configs = operator_tf_configs(load("k8s/training-tfjob.yaml"))
    roles = []
    for (role, _), config in sorted(configs.items()):
        with environment(TF_CONFIG=json.dumps(config)):
            roles.append((role, cluster.is_chief(), cluster.is_evaluator(), cluster.is_ps()))
    assert sum(chief for _, chief, _, _ in roles) == 1
    assert [r for r in roles if r[2]] == [("evaluator", False, True, False)]
    assert all(is_ps == (role == "ps") for role, _, _, is_ps in roles)


@pytest.mark.parametrize("name", ["compose.yaml", "k8s/batch-prediction.yaml", "k8s/training-tfjob.yaml"])
def test_manifests_name_only_our_images(name):
    text = open(os.path.join(DOCKER_DIR, name)).read()
    images = {interpolate(m) for m in re.findall(r"image:\s*(\S+)", text)}
    assert images and images <= IMAGES
