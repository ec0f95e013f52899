"""The data_spec job end to end: feature list in, validated spec out."""

import json

import pytest

import libtwml
from tools import data_spec as job
from twml_common import data_spec


def test_default_light_ranker_list_gives_a_readable_spec(tmp_path, capsys):
    output = tmp_path / "spec.json"
    job.main(["--output", str(output)])
    spec = data_spec.read_data_spec(str(output))
    names = [info.fullFeatureName for info in spec.contents]
    assert len(names) >= 50 and "ebd.has_diff_lang" in names
    assert [info.featureId for info in spec.contents] == libtwml.feature_id(names).tolist()
    types = {data_spec.FeatureType._VALUES_TO_NAMES[info.featureType] for info in spec.contents}
    assert types == {"BINARY", "CONTINUOUS", "DISCRETE", "STRING", "SPARSE_BINARY", "SPARSE_CONTINUOUS"}
    assert "core and FeatureId op agree on every id" in capsys.readouterr().err
    assert [p.name for p in tmp_path.iterdir()] == ["spec.json"]  # no temporary file left behind


def test_binary_output_and_names_with_hash(tmp_path):
    features = tmp_path / "features.txt"
    features.write_text("# comment\nuser.id#12345 DISCRETE\n\na#b binary\n")
    output = tmp_path / "spec.thrift"
    job.main(["--features", str(features), "--output", str(output), "--binary"])
    spec = data_spec.read_data_spec(str(output))
    assert [(i.featureId, i.fullFeatureName, i.featureType) for i in spec.contents] == [
        (-5876197895707553035, "user.id#12345", data_spec.FeatureType.DISCRETE),
        (-3734086814676416176, "a#b", data_spec.FeatureType.BINARY),
    ]


def test_stdout_json(tmp_path, capsys):
    features = tmp_path / "features.txt"
    features.write_text("a CONTINUOUS\n")
    job.main(["--features", str(features)])
    document = json.loads(capsys.readouterr().out)
    assert document == {
        "contents": [{"featureId": -7591212652331886403, "fullFeatureName": "a", "featureType": "CONTINUOUS"}]
    }


@pytest.mark.parametrize(
    "content, message",
    [
        ("a BINARY extra\n", r"features.txt:1: expected '<feature name> <FeatureType>'"),
        ("a BINARY\nb COLOR\n", r"'b': unknown feature type 'COLOR'"),
        ("a BINARY\na CONTINUOUS\n", r"feature #1 'a' has the id -7591212652331886403 of feature #0 'a'"),
    ],
)
def test_bad_feature_lists_fail_clearly(tmp_path, content, message):
    features = tmp_path / "features.txt"
    features.write_text(content)
    output = tmp_path / "spec.json"
    with pytest.raises(SystemExit, match=message):
        job.main(["--features", str(features), "--output", str(output)])
    assert not output.exists()


def test_missing_feature_list_fails_clearly(tmp_path):
    with pytest.raises(SystemExit, match="No such file or directory.*nowhere.txt"):
        job.main(["--features", str(tmp_path / "nowhere.txt")])
