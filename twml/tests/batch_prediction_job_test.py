"""twml-batch-predict end to end: a real export scored by the command in subprocesses; outputs
equal the in-graph predictions (float32 exact) in DataRecord and CSV form; reruns skip, refuse or
redo parts; two shards in parallel; every bad input is one line and a non-zero exit."""

import csv
import io
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
import tensorflow.compat.v1 as tf

import libtwml.ops  # noqa: F401
import twml
from libtwml import _core
from tools.light_ranker import synthetic_data
from twml import batch_prediction_job as job
from twml.batch_prediction import SavedModelPredictor, decode_batch_prediction_response, encode_batch_prediction_request
from twml.records_cli import main as records_main
from twml.tests.small_export import in_graph_predictions, train_small_export, write_data
from twml_common import block_files

LABEL_ID = int(twml.feature_id(synthetic_data.MAIN_LABEL)[0])
KEEP = ["ebd.has_diff_lang", "timelines.author_follower_count", "tweet.card_type", synthetic_data.MAIN_LABEL]


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("bp"))
    train = write_data(os.path.join(root, "train"), 1, 500)
    data = write_data(os.path.join(root, "data"), 3, 300, seed=9)
    model = train_small_export(root, train)
    return dict(model, root=root, data=data, data_dir=os.path.dirname(data[0]))


def run_job(*flags, check=True, env=None):
    """The command in a subprocess: (returncode, stdout, stderr)."""
    environment = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p), **(env or {}))
    done = subprocess.run(
        [sys.executable, "-m", "twml.batch_prediction_job", *flags],
        capture_output=True,
        text=True,
        env=environment,
        timeout=300,
    )
    if check:
        assert done.returncode == 0, done.stderr
    return done.returncode, done.stdout, done.stderr


def summary_of(stdout):
    line = next(line for line in stdout.splitlines() if line.startswith("twml-batch-predict summary: "))
    return json.loads(line.split(": ", 1)[1])


def records_of(paths):
    return [r for path in paths for r in _core.BlockFileReader(path)]


def test_datarecord_output_equals_in_graph_predictions(setup, tmp_path):
    out = str(tmp_path / "out")
    _, stdout, stderr = run_job(
        "--export_dir",
        setup["export_root"],
        "--input",
        setup["data_dir"],
        "--output_dir",
        out,
        "--keep_fields",
        *KEEP,
        "--batch_size",
        "64",
    )
    assert "newest of 1 complete exports" in stderr and setup["export"] in stderr
    summary = summary_of(stdout)
    assert summary["records"] == 900 and summary["parts_written"] == 3 and summary["success"]
    assert sorted(os.listdir(out)) == ["_SUCCESS", "_manifests", "part-00000", "part-00001", "part-00002"]
    success = json.load(open(os.path.join(out, "_SUCCESS")))
    assert success["records"] == 900 and success["parts"] == 3

    inputs = records_of(setup["data"])
    expected = in_graph_predictions(setup["trainer"], inputs, 64)
    with SavedModelPredictor(setup["export"]) as predictor:  # the served responses, decoded by the core
        served = [
            row
            for part in (inputs[:300], inputs[300:600], inputs[600:])
            for i in range(0, 300, 64)
            for row in decode_batch_prediction_response(
                predictor.predict_request(encode_batch_prediction_request(part[i : i + 64]))
            )
        ]
    keep_ids = [int(twml.feature_id(name)[0]) for name in KEEP]
    got = []
    for (_, data), source in zip(job.read_predictions(out), inputs):
        record = _core.decode_data_record(data)
        got.append(record["continuous"][LABEL_ID])
        original = _core.decode_data_record(source)
        assert sorted(record.get("binary", [])) == sorted(f for f in original.get("binary", []) if f in keep_ids)
        assert {k: v for k, v in record["continuous"].items() if k != LABEL_ID} == {
            k: v for k, v in original.get("continuous", {}).items() if k in keep_ids
        }
        assert record.get("strings", {}) == {k: v for k, v in original.get("strings", {}).items() if k in keep_ids}
    got = np.array(got)
    assert len(got) == len(inputs) == 900
    np.testing.assert_array_equal(got, np.array([row[LABEL_ID] for row in served]))
    np.testing.assert_array_equal(got.astype(np.float32), raw_output(setup["export"], inputs, 64))  # float32 exact
    # The estimator's predict graph decodes DataRecords, not requests: equal to the last bit or next to it.
    np.testing.assert_array_max_ulp(got.astype(np.float32), expected, maxulp=1)
    assert np.array_equal(got, got.astype(np.float32).astype(np.float64))  # the floats the model computed

    # twml-records reads the parts.
    listing = io.StringIO()
    assert records_main(["count", os.path.join(out, "part-00000")], out=listing) in (0, None)
    assert "300" in listing.getvalue()


def raw_output(export, records, batch_size):
    """The export's own float predictions (its ``raw_output`` signature), requests of
    ``batch_size`` records per input file of 300."""
    with tf.Graph().as_default(), tf.Session() as session:
        signature = tf.saved_model.loader.load(session, ["serve"], export).signature_def["raw_output"]
        out = []
        for start in range(0, len(records), 300):
            part = records[start : start + 300]
            for i in range(0, len(part), batch_size):
                request = np.frombuffer(encode_batch_prediction_request(part[i : i + batch_size]), np.uint8)
                out.append(session.run(signature.outputs["output"].name, {signature.inputs["request"].name: request}))
    return np.concatenate(out).reshape(-1)


def test_csv_output_reads_back(setup, tmp_path):
    out = str(tmp_path / "csv")
    run_job(
        "--export_dir",
        setup["export"],
        "--input",
        os.path.join(setup["data_dir"], "part-*"),
        "--output_dir",
        out,
        "--output_format",
        "csv",
        "--keep_fields",
        "timelines.author_follower_count",
        "ebd.has_diff_lang",
        synthetic_data.LABELS[1],
        "--data_spec",
        os.path.join(setup["data_dir"], "data_spec.json"),
    )
    inputs = records_of(setup["data"])
    expected = raw_output(setup["export"], inputs, 512)
    rows = []
    for name in ("part-00000.csv", "part-00001.csv", "part-00002.csv"):
        with open(os.path.join(out, name), newline="") as source:
            reader = csv.reader(source)
            assert next(reader) == [
                "timelines.author_follower_count",
                "ebd.has_diff_lang",
                synthetic_data.LABELS[1],
                synthetic_data.MAIN_LABEL,
            ]
            rows.extend(reader)
    assert len(rows) == 900
    np.testing.assert_array_equal(np.array([np.float32(r[3]) for r in rows]), expected)
    followers = int(twml.feature_id("timelines.author_follower_count")[0])
    diff_lang = int(twml.feature_id("ebd.has_diff_lang")[0])
    for row, source in zip(rows, inputs):
        record = _core.decode_data_record(source)
        value = record.get("continuous", {}).get(followers, record.get("discrete", {}).get(followers))
        assert row[0] == ("" if value is None else repr(value))
        assert row[1] == ("1" if diff_lang in record.get("binary", []) else "")


def test_rerun_skips_refuses_and_overwrites(setup, tmp_path):
    data_dir = str(tmp_path / "in")
    shutil.copytree(setup["data_dir"], data_dir)
    out = str(tmp_path / "out")
    flags = ["--export_dir", setup["export"], "--input", data_dir, "--output_dir", out]
    assert job.main(flags) == 0
    before = {name: open(os.path.join(out, name), "rb").read() for name in os.listdir(out) if name.startswith("part")}
    summary = job.run(job.build_parser().parse_args(flags), stdout=open(os.devnull, "w"))
    assert summary["parts_already_done"] == 3 and summary["parts_written"] == 0 and summary["success"]

    # A truncated part (damage after the commit) is redone, not skipped.
    with open(os.path.join(out, "part-00001"), "r+b") as part:
        part.truncate(100)
    summary = job.run(job.build_parser().parse_args(flags), stdout=open(os.devnull, "w"))
    assert summary["parts_written"] == 1
    assert before == {n: open(os.path.join(out, n), "rb").read() for n in os.listdir(out) if n.startswith("part")}

    # Changed input: refused, then redone with --overwrite.
    os.utime(os.path.join(data_dir, "part-00002.lzo"), ns=(1, 1))
    with pytest.raises(job.JobError, match=r"part-00002\.json: committed by another run \(input_mtime_ns"):
        job.run(job.build_parser().parse_args(flags), stdout=open(os.devnull, "w"))
    summary = job.run(job.build_parser().parse_args(flags + ["--overwrite"]), stdout=open(os.devnull, "w"))
    assert summary["parts_written"] == 1 and summary["parts_already_done"] == 2

    # Another model: refused; the flags of the job are part of a part's identity too.
    other = train_small_export(str(tmp_path / "m2"), [setup["data"][0]], steps=5)
    with pytest.raises(job.JobError, match="export"):
        job.run(
            job.build_parser().parse_args(["--export_dir", other["export"]] + flags[2:]), stdout=open(os.devnull, "w")
        )
    with pytest.raises(job.JobError, match="keep_fields"):
        job.run(
            job.build_parser().parse_args(flags + ["--keep_fields", "ebd.has_diff_lang"]), stdout=open(os.devnull, "w")
        )


def test_two_shards_in_parallel_and_dry_run(setup, tmp_path):
    out = str(tmp_path / "sharded")
    flags = ["--export_dir", setup["export"], "--input", setup["data_dir"], "--output_dir", out, "--num_shards", "2"]
    environment = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    workers = [
        subprocess.Popen(
            [sys.executable, "-m", "twml.batch_prediction_job", *flags],
            env=dict(environment, JOB_COMPLETION_INDEX=str(i)),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(2)
    ]
    outputs = [worker.communicate(timeout=300) for worker in workers]
    assert [worker.returncode for worker in workers] == [0, 0], outputs
    summaries = [summary_of(stdout) for stdout, _ in outputs]
    assert sorted(s["shard"] for s in summaries) == ["0/2", "1/2"]
    assert sorted(s["parts_written"] for s in summaries) == [1, 2]
    assert sum(s["records"] for s in summaries) == 900
    assert os.path.exists(os.path.join(out, "_SUCCESS"))
    single = str(tmp_path / "single")
    assert job.main(["--export_dir", setup["export"], "--input", setup["data_dir"], "--output_dir", single]) == 0
    for name in ("part-00000", "part-00001", "part-00002"):
        assert open(os.path.join(out, name), "rb").read() == open(os.path.join(single, name), "rb").read()

    dry = str(tmp_path / "dry")
    summary = job.run(
        job.build_parser().parse_args(
            ["--export_dir", setup["export"], "--input", setup["data_dir"], "--output_dir", dry, "--max_records", "250"]
        ),
        stdout=open(os.devnull, "w"),
    )
    assert summary["records"] == 250 and summary["dry_run"] and not os.path.exists(dry)


def test_corrupt_input(setup, tmp_path):
    data_dir = tmp_path / "in"
    data_dir.mkdir()
    shutil.copy(setup["data"][0], data_dir / "a.lzo")
    good = list(_core.BlockFileReader(setup["data"][1]))
    raw = block_files.encode_block_file(good, 50)
    (data_dir / "b").write_bytes(raw[:2000] + b"\x00garbage" * 50 + raw[2000:])
    out = str(tmp_path / "out")
    code, _, stderr = run_job(
        "--export_dir", setup["export"], "--input", str(data_dir), "--output_dir", out, check=False
    )
    error = [line for line in stderr.splitlines() if line.startswith("twml-batch-predict: error:")]
    assert code == 1 and len(error) == 1 and str(data_dir / "b") in error[0] and "at byte" in error[0]
    assert sorted(os.listdir(out)) == ["_manifests", "a"]  # the completed part stays, committed
    manifest = json.load(open(os.path.join(out, "_manifests", "a.json")))
    assert manifest["records"] == 300
    code, stdout, _ = run_job(
        "--export_dir", setup["export"], "--input", str(data_dir), "--output_dir", out, "--skip_corrupt"
    )
    summary = summary_of(stdout)
    assert summary["parts_already_done"] == 1 and summary["parts_written"] == 1
    assert summary["skipped_corrupt"]["blocks"] + summary["skipped_corrupt"]["bytes"] > 0
    assert 0 < summary["records"] < 300


def signature_without_request(path):
    with tf.Graph().as_default(), tf.Session() as session:
        x = tf.placeholder(tf.uint8, [None], name="x")
        prediction = tf.identity(x, name="prediction")
        tf.saved_model.simple_save(session, path, {"x": x}, {"prediction": prediction})
    return path


@pytest.mark.parametrize(
    "case",
    [
        "missing_export",
        "not_savedmodel",
        "signature_input",
        "unknown_signature",
        "output_is_file",
        "output_read_only",
        "empty_dir",
        "no_match",
        "missing_file",
        "unknown_keep_field",
        "bad_shard",
        "bad_batch_size",
        "unreadable_input",
    ],
)
def test_bad_input_is_one_line_and_nonzero(setup, tmp_path, capsys, case):
    flags = {"--export_dir": setup["export"], "--input": setup["data"][0], "--output_dir": str(tmp_path / "out")}
    extra = []
    expect = case
    if case == "missing_export":
        flags["--export_dir"], expect = str(tmp_path / "nope"), "no such directory"
    elif case == "not_savedmodel":
        (tmp_path / "empty").mkdir()
        flags["--export_dir"], expect = str(tmp_path / "empty"), "not a SavedModel"
    elif case == "signature_input":
        flags["--export_dir"], expect = signature_without_request(str(tmp_path / "sm")), "input 'request'"
    elif case == "unknown_signature":
        extra, expect = ["--signature", "nope"], "has no signature 'nope'"
    elif case == "output_is_file":
        (tmp_path / "file").write_text("x")
        flags["--output_dir"], expect = str(tmp_path / "file"), "is a file"
    elif case == "output_read_only":
        if os.geteuid() == 0:  # root writes through permissions: a read-only filesystem instead
            flags["--output_dir"] = "/proc/twml-batch-predict-out"
        else:
            (tmp_path / "ro").mkdir(mode=0o555)
            flags["--output_dir"] = str(tmp_path / "ro" / "out")
        expect = "not writable"
    elif case == "empty_dir":
        (tmp_path / "nothing").mkdir()
        flags["--input"], expect = str(tmp_path / "nothing"), "holds no input files"
    elif case == "no_match":
        flags["--input"], expect = str(tmp_path / "x-*"), "matches no file"
    elif case == "missing_file":
        flags["--input"], expect = str(tmp_path / "x.lzo"), "no such file"
    elif case == "unknown_keep_field":
        extra, expect = ["--keep_fields", "no.such.feature"], "unknown feature(s) no.such.feature"
    elif case == "bad_shard":
        extra, expect = ["--num_shards", "2", "--shard_index", "2"], "--shard_index 2: not in 0..1"
    elif case == "bad_batch_size":
        extra, expect = ["--batch_size", "0"], "--batch_size"
    elif case == "unreadable_input":
        (tmp_path / "notblocks").write_bytes(b"this is not a block file" * 10)
        flags["--input"], expect = str(tmp_path / "notblocks"), str(tmp_path / "notblocks")
    argv = [item for pair in flags.items() for item in pair] + extra
    code = job.main(argv)
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("twml-batch-predict: error:")]
    assert code != 0 and len(lines) == 1 and expect in lines[0], err
    if case != "unreadable_input":
        assert not os.path.exists(os.path.join(flags["--output_dir"], "_manifests"))


def test_saved_model_predictor_shares_the_path(setup):
    inputs = records_of(setup["data"][:1])
    with SavedModelPredictor(setup["export"]) as predictor:
        assert predictor.reads_floats
        columns = np.concatenate(list(predictor.predict_records(inputs, 100, keys=[LABEL_ID])))
        assert predictor.keys.tolist() == [LABEL_ID]
        with pytest.raises(ValueError, match="no prediction for the keys"):
            next(predictor.predict_records(inputs, 100, keys=[1]))
    np.testing.assert_array_equal(columns[:, 0].astype(np.float32), raw_output(setup["export"], inputs, 100))


def test_the_export_answers_requests_without_any_kept_feature(setup):
    # Rows that are empty or hold only unknown feature ids are legal: each gets a prediction, and
    # all get the same one (nothing but the bias contributes). The served response and the raw
    # floats agree.
    empty = _core.encode_data_record({})
    unknown = _core.encode_data_record({"binary": [123456789], "continuous": {987654321: 2.0}})
    with SavedModelPredictor(setup["export"]) as predictor:
        for rows in ([empty], [empty, empty, empty], [unknown, empty]):
            request = encode_batch_prediction_request(rows)
            response = decode_batch_prediction_response(predictor.predict_request(request))
            assert len(response) == len(rows)
            values = [row[LABEL_ID] for row in response]
            assert len(set(values)) == 1 and 0.0 < values[0] < 1.0
            floats = predictor.predict_batch(rows)
            assert floats.shape == (len(rows), 1)
            np.testing.assert_array_equal(floats[:, 0].astype(np.float64), np.float32(values).astype(np.float64))
