"""The synthetic light-ranker data: deterministic, realistic, readable, with a known optimum."""

import gzip
import hashlib
import json

import numpy as np
import pytest

from libtwml import _core
from tools.light_ranker import synthetic_data
from twml_common import data_spec


def digest(paths):
    return [hashlib.sha256(open(p, "rb").read()).hexdigest() for p in paths]


def read_records(path):
    return list(_core.BlockFileReader(path))


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path):
    first = synthetic_data.write_dataset(str(tmp_path / "a"), num_files=2, records_per_file=300)
    second = synthetic_data.write_dataset(str(tmp_path / "b"), num_files=2, records_per_file=300)
    other = synthetic_data.write_dataset(str(tmp_path / "c"), num_files=2, records_per_file=300, seed=1)
    assert digest(first) == digest(second)
    assert digest(first) != digest(other)
    assert digest(first)[0] != digest(first)[1]  # files hold different records


def test_files_hold_every_feature_type_labels_and_weights(tmp_path):
    paths = synthetic_data.write_dataset(str(tmp_path), num_files=1, records_per_file=500, records_per_block=64)
    spec = data_spec.read_data_spec(str(tmp_path / "data_spec.json"))
    ids = {info.fullFeatureName: info.featureId for info in spec.contents}
    assert len(ids) >= 50
    records = [_core.decode_data_record(r) for r in read_records(paths[0])]
    assert len(records) == 500
    known = set(ids.values())
    present = {
        kind: set() for kind in ("binary", "continuous", "discrete", "strings", "sparse_binary", "sparse_continuous")
    }
    for record in records:
        for kind, values in record.items():
            present[kind].update(values if kind == "binary" else values.keys())
    assert all(present[kind] for kind in present), present
    assert set().union(*present.values()) <= known
    label_rates = {name: np.mean([ids[name] in r.get("binary", []) for r in records]) for name in synthetic_data.LABELS}
    assert all(0.02 < rate < 0.8 for rate in label_rates.values()), label_rates
    assert all(r["continuous"][ids[synthetic_data.WEIGHT]] in (1.0, 2.0) for r in records)
    json.loads((tmp_path / "data_spec.json").read_text())


def test_gzip_files_hold_the_same_records(tmp_path):
    raw = synthetic_data.write_dataset(str(tmp_path / "raw"), num_files=1, records_per_file=200)
    gz = synthetic_data.write_dataset(str(tmp_path / "gz"), num_files=1, records_per_file=200, compression="gz")
    assert gz[0].endswith(".gz")
    assert gzip.decompress(open(gz[0], "rb").read()) == open(raw[0], "rb").read()
    assert read_records(gz[0]) == read_records(raw[0])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_optimal_auc_is_between_075_and_085(seed):
    auc = synthetic_data.LightRankerData(seed).optimal_auc(20000)
    assert 0.75 <= auc <= 0.85, auc


def test_roc_auc_matches_the_pairwise_definition():
    rng = np.random.default_rng(0)
    labels = rng.random(300) < 0.3
    scores = np.round(rng.random(300), 1)  # many ties
    pairs = [(s_pos > s_neg) + 0.5 * (s_pos == s_neg) for s_pos in scores[labels] for s_neg in scores[~labels]]
    assert synthetic_data.roc_auc(labels, scores) == pytest.approx(np.mean(pairs), abs=1e-12)
    with pytest.raises(ValueError, match="both positive and negative"):
        synthetic_data.roc_auc(np.ones(3, bool), np.arange(3.0))
