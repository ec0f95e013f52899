"""docker/compose.yaml trains the light-ranker example in twml:cpu containers (ps, chief, worker,
evaluator on 127.0.0.1) to an export that meets the example's held-out ROC-AUC bar; nothing is left
running afterwards, whether the test passes or not."""

import os
import re
import socket
import subprocess

from docker.tests import container_support as containers

DOCKER_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SERVICES = ("ps", "chief", "worker", "evaluator")
TRAINING_TIMEOUT_S = 1500


def free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for sock in sockets:
        sock.bind(("127.0.0.1", 0))
    ports = [sock.getsockname()[1] for sock in sockets]
    for sock in sockets:
        sock.close()
    return ports


def compose(args, env, timeout=300):
    command = [
        os.path.join(os.path.dirname(containers.python()), "podman-compose"),
        "-f",
        os.path.join(DOCKER_DIR, "compose.yaml"),
    ] + args
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout)


def test_compose_trains_the_light_ranker_to_an_export(tmp_path):
    image = containers.image("cpu")
    data = containers.writable_folder(str(tmp_path / "data"))
    ps_port, chief_port, worker_port = free_ports(3)
    env = dict(
        containers.engine().env,
        TWML_DATA=data,
        TWML_IMAGE=image,
        TWML_PS_PORT=str(ps_port),
        TWML_CHIEF_PORT=str(chief_port),
        TWML_WORKER_PORT=str(worker_port),
    )
    names = ["twml-" + service for service in SERVICES]
    try:
        up = compose(["up", "-d"], env)
        assert up.returncode == 0, up.stdout + up.stderr
        waited = containers.run(["wait", "twml-chief"], timeout=TRAINING_TIMEOUT_S, check=False)
        logs = containers.run(["logs", "twml-chief"], check=False)
        chief_log = logs.stdout + logs.stderr
        assert waited.stdout.strip() == "0", "the chief exited %s:\n%s" % (waited.stdout.strip(), chief_log[-8000:])
        for service in ("worker", "evaluator"):
            status = containers.run(["wait", "twml-" + service], timeout=300, check=False).stdout.strip()
            assert status == "0", "%s exited %s:\n%s" % (
                service,
                status,
                containers.run(["logs", "twml-" + service], check=False).stderr[-4000:],
            )
    finally:
        compose(["down", "--timeout", "5"], env)
        containers.run(["rm", "--force", "--ignore"] + names, check=False)
        left = containers.run(["ps", "--all", "--format", "{{.Names}}"], check=False).stdout.split()
        assert not set(left) & set(names), "containers left behind: %s" % (set(left) & set(names))

    model = os.path.join(data, "model")
    assert os.path.exists(os.path.join(model, "_SUCCESS")), "the chief wrote no _SUCCESS"
    exports = [name for name in os.listdir(os.path.join(model, "exported_models")) if name.isdigit()]
    assert len(exports) == 1
    assert os.path.exists(os.path.join(model, "exported_models", exports[0], "saved_model.pb"))
    assert os.path.exists(os.path.join(model, "exported_models", "batch_predictions", "_SUCCESS"))
    (verdict,) = re.findall(
        r"ROC-AUC ([0-9.]+), optimum ([0-9.]+), gap ([0-9.]+) \(tolerance ([0-9.]+)\): (\w+)", chief_log
    )
    auc, optimum, gap, tolerance, outcome = verdict
    print("held-out ROC-AUC %s, optimum %s, gap %s" % (auc, optimum, gap))
    assert outcome == "OK" and float(optimum) - float(auc) <= float(tolerance) == 0.01
