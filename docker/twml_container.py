#!/opt/twml/venv/bin/python
"""The runtime images' entrypoint: one command that dispatches to twml's jobs.

    docker run twml:cpu batch-predict --export_dir /data/export --input /data/eval --output_dir /data/out
    docker run twml:cpu train light_ranker --save_dir /data/model ...
    docker run twml:cpu train my_team.ranker.train [flags]     # a module installed or mounted
    docker run twml:cpu train /code/train.py [flags]           # a mounted script
    docker run twml:cpu records count /data/eval
    docker run twml:cpu runs list
    docker run twml:cpu --help

Arguments after the sub-command go to it unchanged and its exit status is the container's. The
command runs as a child of this process, which forwards SIGTERM, SIGINT and SIGHUP to it: as the
container's PID 1 this process would otherwise leave a job deaf to `docker stop` and to a
Kubernetes eviction (the kernel drops default-action signals sent to PID 1).
"""

import os
import signal
import subprocess
import sys
from typing import Dict, List, Optional, Sequence

EXAMPLES_DIR = "/opt/twml/examples"

# Training scripts that ship in the image, by short name.
EXAMPLES = {
    "light_ranker": "tools.light_ranker.train",
    "light_ranker_mlp": "tools.light_ranker.train_mlp",
}

# Sub-command -> the console script of the twml wheel it runs.
CONSOLE_SCRIPTS = {
    "batch-predict": "twml-batch-predict",
    "records": "twml-records",
    "runs": "twml-runs",
}

USAGE = """\
usage: <image> COMMAND [ARGS...]

twml's runtime image. Commands (ARGS go to the command unchanged; `COMMAND --help` for its flags):
  batch-predict ARGS       the batch-prediction job (twml-batch-predict): a SavedModel export and
                           DataRecord block files in, predictions out, exactly once per shard
  train SCRIPT [FLAGS]     a twml training script: a module name (importable, or mounted under
                           /work), a path to a .py file, or a shipped example: {examples}
  records ARGS             inspect and convert DataRecord files (twml-records)
  runs ARGS                list, show and compare recorded training runs (twml-runs)
  --help                   this text

The image runs as the unprivileged user twml (uid 1000) in /work; bind-mount data there or
anywhere, e.g.  -v $PWD/data:/data
"""


def usage() -> str:
    """The help text, with the shipped examples filled in."""
    return USAGE.format(examples=", ".join(sorted(EXAMPLES)))


def command_for(argv: Sequence[str], python: str = sys.executable) -> List[str]:
    """The command line that ``argv`` (the container's arguments) runs.

    Raises:
      ValueError: an unknown sub-command or ``train`` without a script (the message says which).
    """
    name, args = argv[0], list(argv[1:])
    if name in CONSOLE_SCRIPTS:
        return [CONSOLE_SCRIPTS[name]] + args
    if name == "train":
        if not args or args[0].startswith("-"):
            raise ValueError("train needs a script: a module name, a .py path or one of %s" % ", ".join(EXAMPLES))
        script, flags = args[0], args[1:]
        if script.endswith(".py") or os.sep in script:
            return [python, script] + flags
        return [python, "-m", EXAMPLES.get(script, script)] + flags
    raise ValueError("unknown command %r" % name)


def child_environment(environ: Optional[Dict[str, str]] = None) -> Dict[str, str]:
    """The environment of the command: the shipped examples and /work importable."""
    env = dict(os.environ if environ is None else environ)
    paths = [EXAMPLES_DIR, os.getcwd()] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    env["PYTHONPATH"] = os.pathsep.join(paths)
    return env


def run(command: List[str]) -> int:
    """Runs ``command`` as a child, forwarding termination signals; its exit status (128+n for signal n)."""
    try:
        child = subprocess.Popen(command, env=child_environment())
    except FileNotFoundError:
        print("twml-container: %s: command not found" % command[0], file=sys.stderr)
        return 127

    def forward(signum: int, _frame: object) -> None:
        child.send_signal(signum)

    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, forward)
    status = child.wait()
    return 128 - status if status < 0 else status


def main(argv: Optional[List[str]] = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(usage(), end="")
        return 0
    try:
        command = command_for(argv)
    except ValueError as error:
        print("twml-container: %s\n\n%s" % (error, usage()), file=sys.stderr, end="")
        return 2
    return run(command)


if __name__ == "__main__":
    sys.exit(main())
