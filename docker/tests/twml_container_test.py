"""The images' entrypoint (docker/twml_container.py): dispatch, exit status, signal forwarding."""

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from docker import twml_container


def test_console_scripts_get_their_arguments_unchanged():
    args = ["--export_dir", "/m", "--input", "a b", "--output_dir=/o", "--", "-x"]
    assert twml_container.command_for(["batch-predict"] + args) == ["twml-batch-predict"] + args
    assert twml_container.command_for(["records", "count", "/d"]) == ["twml-records", "count", "/d"]
    assert twml_container.command_for(["runs", "list"]) == ["twml-runs", "list"]


def test_train_runs_an_example_a_module_or_a_script():
    py = "/venv/bin/python"
    assert twml_container.command_for(["train", "light_ranker", "--save_dir", "/s"], py) == [
        py,
        "-m",
        "tools.light_ranker.train",
        "--save_dir",
        "/s",
    ]
    assert twml_container.command_for(["train", "team.ranker.train", "-h"], py) == [py, "-m", "team.ranker.train", "-h"]
    assert twml_container.command_for(["train", "/code/train.py", "--x"], py) == [py, "/code/train.py", "--x"]
    assert twml_container.command_for(["train", "scripts/train"], py) == [py, "scripts/train"]


@pytest.mark.parametrize("argv", [["train"], ["train", "--save_dir", "/s"], ["serve"], ["bash"]])
def test_bad_commands_are_usage_errors(argv, capsys):
    assert twml_container.main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("twml-container: ") and "usage:" in err


@pytest.mark.parametrize("argv", [[], ["--help"], ["-h"], ["help"]])
def test_help_lists_every_command(argv, capsys):
    assert twml_container.main(argv) == 0
    out = capsys.readouterr().out
    for command in ["batch-predict", "train", "records", "runs", "light_ranker", "light_ranker_mlp"]:
        assert command in out


def test_examples_and_the_working_directory_are_importable(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    env = twml_container.child_environment({"PYTHONPATH": "/mine"})
    assert env["PYTHONPATH"].split(os.pathsep) == [twml_container.EXAMPLES_DIR, str(tmp_path), "/mine"]


def test_the_exit_status_is_the_commands():
    assert twml_container.run([sys.executable, "-c", "import sys; sys.exit(3)"]) == 3
    assert twml_container.run(["/no/such/command"]) == 127


CHILD = textwrap.dedent("""
    import os, signal, sys, time
    def stop(signum, frame):
        os.write(1, b"stopping on %d\\n" % signum)  # not print: the signal may land inside one
        sys.exit(17)
    signal.signal(signal.SIGTERM, stop)
    print("ready", flush=True)
    time.sleep(60)
""")


def test_sigterm_reaches_the_command_and_its_status_comes_back(tmp_path):
    """As PID 1 the entrypoint would swallow `docker stop`'s SIGTERM; it forwards it instead."""
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    entrypoint = subprocess.Popen(
        [sys.executable, twml_container.__file__, "train", str(script)],
        stdout=subprocess.PIPE,
        text=True,
        env=dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path)),
    )
    assert entrypoint.stdout.readline().strip() == "ready"
    entrypoint.send_signal(signal.SIGTERM)
    started = time.time()
    assert entrypoint.wait(timeout=30) == 17
    assert time.time() - started < 20
    assert "stopping on %d" % signal.SIGTERM in entrypoint.stdout.read()


def test_a_command_killed_by_a_signal_exits_128_plus_the_signal():
    assert twml_container.run([sys.executable, "-c", "import os; os.kill(os.getpid(), 9)"]) == 128 + 9
