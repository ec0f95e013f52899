"""Export: the default serving contract run in a fresh process against the in-graph predictions;
export_all_models' modes; the exporters (reference §8.1, §8.4)."""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import tensorflow.compat.v1 as tf

import twml
from libtwml import _core
from tools.light_ranker import synthetic_data
from twml.batch_prediction import SavedModelPredictor
from twml.contrib.export import BestExporter, LatestExporter, export_all_models
from twml.trainers import DataRecordTrainer
from twml_common.idl import data as data_idl
from twml_common.idl import prediction_service
from twml_common.serialize import deserialize, serialize

LABEL = synthetic_data.MAIN_LABEL


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("export")
    os.environ["TWML_EXPERIMENT_DB"] = str(root / "experiments.sqlite")
    paths = synthetic_data.write_dataset(
        str(root / "data"), num_files=2, records_per_file=500, seed=5, compression="lzo"
    )
    spec = str(root / "data" / "data_spec.json")
    config = (
        twml.FeatureConfigBuilder(data_spec_path=spec)
        .batch_add_features([(r"ebd\..*|timelines\..*|tweet\..*|author\..*", "A")])
        .add_labels([LABEL])
        .define_weight(synthetic_data.WEIGHT)
        .build()
    )
    params = DataRecordTrainer.add_parser_arguments().parse_args(
        [
            "--save_dir",
            str(root / "model"),
            "--data_spec",
            spec,
            "--train.batch_size",
            "50",
            "--learning_rate",
            "0.2",
            "--optimizer",
            "Adagrad",
            "--train.files_list",
            str(root / "files.json"),
        ]
    )
    twml.util.write_file(str(root / "files.json"), {"files": paths[:1]}, encode="json")

    def build_graph(features, label, mode, params, config=None):
        logits = twml.layers.full_sparse(twml.util.convert_to_sparse(features, 20), output_size=1, name="linear")
        output = tf.sigmoid(logits)
        if mode == tf.estimator.ModeKeys.PREDICT:
            return {"output": output}
        return {"output": output, "loss": tf.losses.sigmoid_cross_entropy(label, logits)}

    trainer = DataRecordTrainer("lr", params, build_graph, feature_config=config)
    trainer.train(steps=40)
    return {"trainer": trainer, "config": config, "eval_file": paths[1], "root": root}


def in_graph_predictions(trainer, records):
    """The estimator's own predictions for serialized DataRecords, in order."""

    def input_fn():
        return trainer.feature_config.get_parse_fn()(tf.constant(records))

    batch = next(trainer.predict(input_fn=input_fn, yield_single_examples=False))
    return batch["output"].reshape(-1)


SERVE_SCRIPT = textwrap.dedent("""
    import sys
    import numpy as np
    import tensorflow.compat.v1 as tf
    import libtwml.ops  # noqa: F401 - registers twml's ops, as a serving process must
    export_dir, request_path, response_path = sys.argv[1:]
    with tf.Session(graph=tf.Graph()) as session:
        meta = tf.saved_model.loader.load(session, ["serve"], export_dir)
        signature = meta.signature_def["serving_default"]
        request = np.frombuffer(open(request_path, "rb").read(), np.uint8)
        response = session.run(signature.outputs["prediction"].name, {signature.inputs["request"].name: request})
    open(response_path, "wb").write(np.asarray(response, np.uint8).tobytes())
""")


def test_saved_model_answers_batch_prediction_requests_in_a_fresh_process(trained, tmp_path):
    trainer, config = trained["trainer"], trained["config"]
    export_path = trainer.export_model()
    assert os.path.exists(os.path.join(export_path, "saved_model.pb"))
    assert os.path.exists(os.path.join(export_path, "feature_spec.yaml"))

    records = list(_core.BlockFileReader(trained["eval_file"]))[:37]
    request = prediction_service.BatchPredictionRequest(
        individualFeaturesList=[deserialize(data_idl.DataRecord(), r) for r in records]
    )
    (tmp_path / "request.bin").write_bytes(serialize(request))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    subprocess.run(
        [
            sys.executable,
            "-c",
            SERVE_SCRIPT,
            export_path,
            str(tmp_path / "request.bin"),
            str(tmp_path / "response.bin"),
        ],
        check=True,
        env=env,
        timeout=300,
    )

    response = deserialize(prediction_service.BatchPredictionResponse(), (tmp_path / "response.bin").read_bytes())
    label_id = config.label_features[0]
    assert len(response.predictions) == len(records)
    assert all(set(row.continuousFeatures) == {label_id} for row in response.predictions)
    served = np.array([row.continuousFeatures[label_id] for row in response.predictions])
    np.testing.assert_allclose(served, in_graph_predictions(trainer, records), rtol=1e-6, atol=1e-7)
    assert served.std() > 0  # a trained model, not a constant


def test_export_all_models_writes_every_mode(trained, tmp_path):
    trainer, config = trained["trainer"], trained["config"]
    path = export_all_models(
        trainer,
        str(tmp_path / "all"),
        config.get_parse_fn(),
        config.get_serving_input_receiver_fn(),
        feature_spec=config.get_feature_spec(),
    )
    from tensorflow.python.saved_model import loader_impl

    tag_sets = {tuple(sorted(m.meta_info_def.tags)) for m in loader_impl.parse_saved_model(path).meta_graphs}
    assert tag_sets == {("serve",), ("train",), ("eval",)}
    assert os.path.exists(os.path.join(path, "feature_spec.yaml"))


def test_exporters_back_up_the_checkpoint(trained, tmp_path):
    trainer, config = trained["trainer"], trained["config"]
    receivers = {tf.estimator.ModeKeys.PREDICT: config.get_serving_input_receiver_fn()}
    checkpoint = trainer.latest_checkpoint
    latest = LatestExporter("latest", receivers, exports_to_keep=1)
    first = latest.export(trainer.estimator, str(tmp_path / "latest"), checkpoint, None, False)
    assert tf.train.latest_checkpoint(os.path.join(first, "checkpoints")) is not None
    best = BestExporter("best", receivers, event_file_pattern=None)
    assert best.export(trainer.estimator, str(tmp_path / "best"), checkpoint, {"loss": 0.5}, False)
    assert best.export(trainer.estimator, str(tmp_path / "best"), checkpoint, {"loss": 0.7}, False) is None
    assert best.export(trainer.estimator, str(tmp_path / "best"), checkpoint, {"loss": 0.4}, False)
    # A restarted job first loads the best evaluation recorded in the event files (losses 0.3, 0.2, 0.6).
    events = tmp_path / "events" / "eval"
    with tf.Graph().as_default():
        writer = tf.summary.FileWriter(str(events))
        for step, loss in enumerate([0.3, 0.2, 0.6]):
            writer.add_summary(tf.Summary(value=[tf.Summary.Value(tag="loss", simple_value=loss)]), step)
        writer.close()
    restarted = BestExporter(input_receiver_fn_map=receivers, event_file_pattern=str(events / "*.tfevents.*"))
    assert restarted.name == "best_exporter"
    assert restarted.export(trainer.estimator, str(tmp_path / "again"), checkpoint, {"loss": 0.25}, False) is None
    assert restarted.export(trainer.estimator, str(tmp_path / "again"), checkpoint, {"loss": 0.1}, False)


def test_bad_request_bytes_give_a_clear_error(trained):
    export_path = trained["trainer"].export_model()
    with SavedModelPredictor(export_path) as predictor:
        with pytest.raises(tf.errors.InvalidArgumentError, match="BatchPredictionRequest|offset"):
            predictor.predict_request(b"\x0f\x00\x01\x0c\x7f\xff\xff\xff")
