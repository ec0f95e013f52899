"""The original twml's public surface (tests/data/twml-surface.json, a copy of the contract
../shared/spec/twml-surface.json) from the INSTALLED WHEEL, outside Bazel: every module imports and
every name resolves; ``import twml`` has the recorded side effects; parse functions give the static
shapes callers rely on; and a script written against the original API runs unedited.

Inputs (BUILD.bazel's env_paths): TWML_TEST_WHEEL, TWML_TEST_LOCK (requirements.lock), TWML_TEST_PYTHON_ENV
(python_env.json, the probed environment), TWML_TEST_SURFACE (the surface JSON).
"""

import json
import os
import subprocess

import pytest

from tools.light_ranker import synthetic_data

SURFACE_SCRIPT = r"""
import importlib, json, sys
surface = json.load(open(sys.argv[1]))
effects = surface["_import_side_effects"]
not_imported = effects["import twml"]["not_imported"]
import twml
loaded_before = sorted(m for m in not_imported if m in sys.modules)
import tensorflow.compat.v1 as tf
direct = effects["import twml"]["submodule_attributes_bound_directly"]
bound = {name: hasattr(twml, name.split(".", 1)[1]) for name in direct}
contrib_bound = {name: hasattr(twml.contrib, name)
                 for name in effects["import twml.contrib"]["submodule_attributes_bound_directly"]
                 + effects["import twml.contrib"]["submodule_attributes_bound_transitively"]}
missing_modules, missing_names, files = {}, [], {}
for module_name, names in surface.items():
    if module_name.startswith("_"):
        continue
    try:
        module = importlib.import_module(module_name)
    except Exception as error:
        missing_modules[module_name] = repr(error)
        continue
    files[module_name] = getattr(module, "__file__", None)
    missing_names += [module_name + "." + name for name in names if not hasattr(module, name)]
print(json.dumps({
    "loaded_before": loaded_before, "bound": bound, "contrib_bound": contrib_bound,
    "eager": tf.executing_eagerly(), "omp": __import__("os").environ.get("OMP_NUM_THREADS"),
    "missing_modules": missing_modules, "missing_names": missing_names, "files": files,
    "layers_full_dense_is_function": callable(twml.layers.full_dense),
    "default_input_fn_alias": twml.default_input_fn is twml.data_record_input_fn,
    "sparse_fields_same":
        twml.readers.data_record.SPARSE_DATA_RECORD_FEATURE_FIELDS is twml.SPARSE_DATA_RECORD_FEATURE_FIELDS,
}))
"""

# A script as a user of the original twml wrote it: argument parsing with the calibrator flags,
# a multi-label parse fn, multi-label metrics on the parser's labels, and contrib ranking losses.
USER_SCRIPT = r"""
import json, os, sys
import numpy as np
import tensorflow.compat.v1 as tf
import twml
from twml.contrib.utils import loss_fns, math_fns, scores, masks

directory = sys.argv[1]  # light-ranker records, written by the test
parser = twml.get_trainer_parser()
parser = twml.contrib.calibrators.add_discretizer_arguments(parser)
params = parser.parse_args(["--discretizer.num_bins", "8"])
labels_names = ["recap.engagement.is_favorited", "recap.engagement.is_replied"]
config = (twml.FeatureConfigBuilder(data_spec_path=os.path.join(directory, "data_spec.json"))
          .batch_add_features([(r"ebd\..*", "A")]).add_labels(labels_names)
          .define_weight("meta.record_weight/type=earlybird").build())
files = sorted(os.path.join(directory, f) for f in os.listdir(directory) if not f.endswith(".json"))
features, labels = twml.input_fns.data_record_input_fn(files, 16, config.get_parse_fn(), repeat=False)
shapes = {"labels": labels.get_shape().as_list(), "weights": features["weights"].get_shape().as_list()}
output = tf.sigmoid(tf.zeros_like(labels) + 0.3)
metric_fn = twml.metrics.get_multi_binary_class_metric_fn(metrics=["rce", "ctr"], classes=["fav", "reply"])
ops = metric_fn({"output": output}, labels, features["weights"])
y = tf.reshape(labels[:, 0], [-1, 1])
s = tf.reshape(tf.cast(tf.range(tf.shape(y)[0]), tf.float32), [-1, 1]) * 0.1
full_mask = type("Params", (), {"mask": "full_mask"})
pair = loss_fns.get_pair_loss(scores.get_pairwise_label_scores(y), scores.get_pairwise_scores(s), full_mask)
listnet = loss_fns.get_listnet_loss(y, s)
ndcg = math_fns.cal_ndcg(y, s, 3)
with tf.Session() as session:
    session.run(tf.local_variables_initializer())
    session.run({k: v[1] for k, v in ops.items()})
    values = session.run({k: v[0] for k, v in ops.items()})
    losses = session.run([pair, listnet, ndcg])
print(json.dumps({"shapes": shapes, "metrics": sorted(values), "n_bin": params.discretizer_num_bins,
                  "losses": [float(x) for x in losses]}))
"""


def run(command, **kwargs):
    result = subprocess.run(command, capture_output=True, text=True, **kwargs)
    assert result.returncode == 0, "%s failed:\n%s\n%s" % (command, result.stdout[-4000:], result.stderr[-8000:])
    return result.stdout


def clean_environment(home):
    keep = ("PATH", "LANG", "LC_ALL", "SSL_CERT_FILE")
    env = {name: os.environ[name] for name in keep if name in os.environ}
    env.update(HOME=str(home), PIP_NO_CACHE_DIR="1", PIP_DISABLE_PIP_VERSION_CHECK="1", TF_CPP_MIN_LOG_LEVEL="2")
    return env


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """A fresh virtual environment with the lock file's packages and the wheel."""
    tmp_path = tmp_path_factory.mktemp("surface")
    python_env = json.load(open(os.environ["TWML_TEST_PYTHON_ENV"]))
    env = clean_environment(tmp_path)
    venv = tmp_path / "venv"
    run([python_env["base_python"], "-m", "venv", str(venv)], env=env)
    python = str(venv / "bin" / "python")
    run(
        [
            python,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-index",
            "--find-links",
            python_env["wheelhouse"],
            "--require-hashes",
            "-r",
            os.environ["TWML_TEST_LOCK"],
        ],
        env=env,
    )
    run([python, "-m", "pip", "install", "--quiet", "--no-index", "--no-deps", os.environ["TWML_TEST_WHEEL"]], env=env)
    return {"python": python, "env": env, "tmp": tmp_path, "site": str(venv / "lib")}


def last_json(output):
    return json.loads(output.strip().splitlines()[-1])


def test_every_module_and_name_of_the_surface_resolves_from_the_wheel(installed):
    surface_path = os.environ["TWML_TEST_SURFACE"]
    surface = json.load(open(surface_path))
    result = last_json(
        run([installed["python"], "-c", SURFACE_SCRIPT, surface_path], env=installed["env"], cwd=str(installed["tmp"]))
    )
    assert result["missing_modules"] == {}
    assert result["missing_names"] == []
    modules = [m for m in surface if not m.startswith("_")]
    names = sum(len(surface[m]) for m in modules)
    print(
        "surface: %d/%d modules, %d/%d names"
        % (len(modules) - len(result["missing_modules"]), len(modules), names - len(result["missing_names"]), names)
    )
    # everything came from the installed wheel, not from a source tree
    assert all(path is None or path.startswith(installed["site"]) for path in result["files"].values())


def test_import_twml_side_effects(installed):
    surface_path = os.environ["TWML_TEST_SURFACE"]
    result = last_json(
        run([installed["python"], "-c", SURFACE_SCRIPT, surface_path], env=installed["env"], cwd=str(installed["tmp"]))
    )
    assert result["loaded_before"] == []  # tensorio, saved_model_cli, ... are not imported by `import twml`
    assert all(result["bound"].values()), result["bound"]
    assert all(result["contrib_bound"].values()), result["contrib_bound"]
    assert result["eager"] is False
    assert result["omp"] == "1"
    assert result["layers_full_dense_is_function"]
    assert result["default_input_fn_alias"]
    assert result["sparse_fields_same"]


def test_python_m_launchers_start(installed):
    for module in ("twml.saved_model_cli", "twml.tensorboard"):
        out = subprocess.run(
            [installed["python"], "-m", module, "--help"],
            env=installed["env"],
            capture_output=True,
            text=True,
            cwd=str(installed["tmp"]),
        )
        # absl (saved_model_cli) exits 1 after printing --help; what matters is that the tool itself ran
        assert out.returncode in (0, 1), (module, out.returncode, out.stderr[-3000:])
        assert "Traceback" not in out.stderr, (module, out.stderr[-3000:])
        assert "usage" in (out.stdout + out.stderr).lower() or "flags" in (out.stdout + out.stderr).lower()


def test_a_script_written_for_the_original_api_runs_unchanged(installed):
    synthetic_data.write_dataset(str(installed["tmp"] / "data"), num_files=1, records_per_file=64)
    result = last_json(
        run(
            [installed["python"], "-c", USER_SCRIPT, str(installed["tmp"] / "data")],
            env=installed["env"],
            cwd=str(installed["tmp"]),
        )
    )
    assert result["shapes"] == {"labels": [None, 2], "weights": [None, 1]}
    assert "rce_fav" in result["metrics"] and "ctr_reply" in result["metrics"]
    assert result["n_bin"] == 8
    pair, listnet, ndcg = result["losses"]
    assert pair >= 0 and listnet > 0 and 0 <= ndcg <= 1
