"""twml-batch-predict killed with SIGKILL at random points (at least 10 kills, across parts and
batches) and rerun each time: no committed part ever differs from an uninterrupted run's, and the
final output equals that run's, row for row and byte for byte."""

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time

import pytest

from libtwml import _core
from twml.batch_prediction_job import MANIFEST_DIR, SUCCESS_FILE
from twml.tests.small_export import train_small_export, write_data

KILLS = 10


def command(export, data_dir, out):
    return [
        sys.executable,
        "-m",
        "twml.batch_prediction_job",
        "--export_dir",
        export,
        "--input",
        data_dir,
        "--output_dir",
        out,
        "--batch_size",
        "20",
        "--threads",
        "1",
    ]


def environment():
    return dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))


def parts(out):
    return {
        name: open(os.path.join(out, name), "rb").read() for name in os.listdir(out) if not name.startswith(("_", "."))
    }


def committed(out):
    directory = os.path.join(out, MANIFEST_DIR)
    if not os.path.isdir(directory):
        return {}
    return {
        name[: -len(".json")]: json.load(open(os.path.join(directory, name)))
        for name in os.listdir(directory)
        if name.endswith(".json")
    }


def test_sigkill_at_random_points_then_rerun_equals_a_clean_run(tmp_path):
    root = str(tmp_path)
    train = write_data(os.path.join(root, "train"), 1, 300)
    data = write_data(os.path.join(root, "data"), 4, 3000, seed=3, compression="")
    export = train_small_export(root, train, steps=10)["export"]
    data_dir = os.path.dirname(data[0])

    reference = os.path.join(root, "reference")
    started = time.monotonic()
    done = subprocess.run(
        command(export, data_dir, reference), env=environment(), capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout.strip().split("summary: ", 1)[1])
    work = summary["records"] / summary["records_per_s"]
    expected = parts(reference)
    assert len(expected) == 4 and summary["records"] == 12000
    print("clean run: %.1fs wall, %.2fs of scoring" % (time.monotonic() - started, work))

    rng = random.Random(12)
    out = os.path.join(root, "out")
    kills, completions, kill_states = 0, 0, []
    for _ in range(4 * KILLS):
        if kills >= KILLS:
            break
        job = subprocess.Popen(
            command(export, data_dir, out), env=environment(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        # Wait for the writer to start (a part's hidden temporary or a new manifest), then a random while.
        before = len(committed(out))
        deadline = time.monotonic() + 120
        while job.poll() is None and time.monotonic() < deadline:
            names = os.listdir(out) if os.path.isdir(out) else []
            if any(".tmp-%d-" % job.pid in name for name in names) or len(committed(out)) > before:
                break
            time.sleep(0.005)
        time.sleep(rng.uniform(0, work * 1.1))
        if job.poll() is None:
            job.send_signal(signal.SIGKILL)
            job.wait()
            kills += 1
            kill_states.append(len(committed(out)))
        else:
            assert job.returncode == 0
            completions += 1
        # Whatever was committed is exactly the clean run's part; _SUCCESS only with every part.
        for name, manifest in committed(out).items():
            if (
                os.path.exists(os.path.join(out, name))
                and manifest["output_sha256"]
                == json.load(open(os.path.join(reference, MANIFEST_DIR, name + ".json")))["output_sha256"]
            ):
                assert open(os.path.join(out, name), "rb").read() == expected[name]
            else:
                pytest.fail("%s committed but its output differs from the clean run's" % name)
        if len(committed(out)) < 4:
            assert not os.path.exists(os.path.join(out, SUCCESS_FILE))
        if completions and job.returncode == 0 and kills < KILLS:  # finished: start again from nothing
            assert parts(out) == expected and os.path.exists(os.path.join(out, SUCCESS_FILE))
            shutil.rmtree(out)
    assert kills >= KILLS, "only %d kills landed while the job ran" % kills
    print(
        "kills: %d (parts committed at each kill: %s), runs that finished between kills: %d"
        % (kills, kill_states, completions)
    )
    assert len(set(kill_states)) > 1  # the kills landed in different parts

    final = subprocess.run(
        command(export, data_dir, out), env=environment(), capture_output=True, text=True, timeout=300
    )
    assert final.returncode == 0, final.stderr
    assert parts(out) == expected  # byte for byte, so row for row
    got = [
        _core.decode_data_record(r) for name in sorted(expected) for r in _core.BlockFileReader(os.path.join(out, name))
    ]
    want = [
        _core.decode_data_record(r)
        for name in sorted(expected)
        for r in _core.BlockFileReader(os.path.join(reference, name))
    ]
    assert got == want and len(got) == 12000
    assert sorted(os.listdir(out)) == sorted(os.listdir(reference))  # no temporaries left behind
    assert json.load(open(os.path.join(out, SUCCESS_FILE))) == json.load(open(os.path.join(reference, SUCCESS_FILE)))


def test_a_rerun_removes_the_temporaries_of_its_parts_whatever_pid_they_name(tmp_path):
    """A job killed in one container leaves `.<part>.tmp-<pid>-*`; the rerun, in a new container,
    may run under that very pid (pid namespaces), so the shard's worker removes them all."""
    root = str(tmp_path)
    train = write_data(os.path.join(root, "train"), 1, 200)
    data = write_data(os.path.join(root, "data"), 2, 100, seed=4, compression="")
    export = train_small_export(root, train, steps=5)["export"]
    out = os.path.join(root, "out")
    first = subprocess.run(
        command(export, os.path.dirname(data[0]), out), env=environment(), capture_output=True, text=True, timeout=300
    )
    assert first.returncode == 0, first.stderr
    names = sorted(parts(out))
    live_pid = os.getpid()  # a live process: the pid alone would keep these
    debris = [os.path.join(out, ".%s.tmp-%d-x1" % (name, live_pid)) for name in names]
    debris += [os.path.join(out, MANIFEST_DIR, ".%s.json.tmp-%d-x2" % (name, live_pid)) for name in names]
    for path in debris:
        open(path, "wb").close()
    rerun = subprocess.run(
        command(export, os.path.dirname(data[0]), out), env=environment(), capture_output=True, text=True, timeout=300
    )
    assert rerun.returncode == 0, rerun.stderr
    assert json.loads(rerun.stdout.strip().split("summary: ", 1)[1])["parts_already_done"] == len(names)
    assert [path for path in debris if os.path.exists(path)] == []
