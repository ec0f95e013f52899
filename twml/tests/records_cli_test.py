"""twml-records (twml.records_cli): counts, JSON dumps, stats and the lossless JSON round trip, on
synthetic files; damaged files with and without --skip_corrupt."""

import io
import json

import numpy as np
import pytest

from libtwml import _core
from tools.light_ranker import synthetic_data
from twml import records_cli
from twml_common import block_files, data_spec


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    directory = tmp_path_factory.mktemp("data")
    paths = synthetic_data.write_dataset(str(directory), num_files=2, records_per_file=250)
    return directory, paths


def run(*argv):
    out = io.StringIO()
    code = records_cli.main(list(argv), out=out)
    return code, out.getvalue()


def test_count(dataset):
    _, paths = dataset
    code, output = run("count", *paths)
    assert code == 0
    assert output.splitlines() == ["250\t%s" % paths[0], "250\t%s" % paths[1], "500\ttotal"]


def test_head_resolves_names_through_the_data_spec(dataset):
    directory, paths = dataset
    code, output = run("--data_spec", str(directory / "data_spec.json"), "head", "-n", "3", paths[0])
    records = [json.loads(line) for line in output.splitlines()]
    assert code == 0 and len(records) == 3
    assert "meta.record_weight/type=earlybird" in records[0]["continuous"]
    assert "author.country_code" in records[0]["strings"]


def test_cat_then_from_json_is_lossless(dataset, tmp_path):
    directory, paths = dataset
    spec = str(directory / "data_spec.json")
    code, output = run("--data_spec", spec, "cat", paths[0])
    assert code == 0
    jsonl = tmp_path / "records.jsonl"
    jsonl.write_text(output)
    rebuilt = tmp_path / "rebuilt"
    assert run("--data_spec", spec, "from-json", str(jsonl), str(rebuilt))[0] == 0
    assert rebuilt.read_bytes() == open(paths[0], "rb").read()
    # Without a data spec the ids print as decimal strings, and the round trip still holds.
    plain = tmp_path / "plain.jsonl"
    plain.write_text(run("cat", paths[0])[1])
    assert run("from-json", str(plain), str(tmp_path / "again"))[0] == 0
    assert (tmp_path / "again").read_bytes() == rebuilt.read_bytes()


def test_round_trip_of_tensors_and_non_utf8_bytes(tmp_path):
    record = {
        "strings": {1: b"\xff\xfe"},
        "sparse_binary": {2: [b"ok", b"\x80"]},
        "blobs": {3: b"\x00\x01"},
        "tensors": {4: np.arange(4, dtype=np.int32).reshape(2, 2), 5: np.array([b"x"], dtype=object)},
        "continuous": {6: 0.1 + 0.2},
    }
    data = _core.encode_data_record(record)
    source = tmp_path / "source"
    source.write_bytes(_core.encode_block(block_files.RECORD_CLASS_NAME, [data]))
    jsonl = tmp_path / "records.jsonl"
    jsonl.write_text(run("cat", str(source))[1])
    assert run("from-json", str(jsonl), str(tmp_path / "out"))[0] == 0
    assert list(_core.BlockFileReader(str(tmp_path / "out"))) == [data]


def test_stats(dataset):
    directory, paths = dataset
    code, output = run("--data_spec", str(directory / "data_spec.json"), "stats", paths[0])
    assert code == 0
    lines = output.splitlines()
    assert lines[0] == "250 records"
    weight = [line for line in lines if "meta.record_weight/type=earlybird" in line]
    assert len(weight) == 1 and "100.0%" in weight[0] and weight[0].split()[-1] == "2"


@pytest.mark.parametrize(
    "content, message",
    [
        ("{nope\n", "records.jsonl:1: not valid JSON"),
        ('{"binary": ["no.such.feature"]}\n', "records.jsonl:1: binary: unknown feature 'no.such.feature'"),
        ('{"binaryFeatures": [1]}\n', "records.jsonl:1: unknown keys \\['binaryFeatures'\\]"),
    ],
)
def test_bad_json_lines_fail_clearly_and_write_nothing(tmp_path, capsys, content, message):
    jsonl = tmp_path / "records.jsonl"
    jsonl.write_text(content)
    assert run("from-json", str(jsonl), str(tmp_path / "out"))[0] == 1
    assert message.replace("\\", "") in capsys.readouterr().err.replace("\\", "")
    assert not (tmp_path / "out").exists()


def test_missing_and_corrupt_files_fail_clearly(tmp_path, capsys):
    assert run("count", str(tmp_path / "missing"))[0] == 1
    assert "missing" in capsys.readouterr().err
    corrupt = tmp_path / "corrupt"
    corrupt.write_bytes(_core.encode_block("c", [b"x"])[:-1] + b"\x00" * 0)
    assert run("count", str(corrupt))[0] == 1
    assert "corrupt" in capsys.readouterr().err


def test_from_tfrecord_maps_each_example_feature_to_a_record_feature(tmp_path):
    import tensorflow as tf

    spec = tmp_path / "spec.json"
    data_spec.write_data_spec(data_spec.make_data_spec([("flag", "BINARY"), ("score", "CONTINUOUS")]), str(spec))
    example = tf.train.Example(
        features=tf.train.Features(
            feature={
                "flag": tf.train.Feature(int64_list=tf.train.Int64List(value=[1])),
                "score": tf.train.Feature(float_list=tf.train.FloatList(value=[0.5])),
                "lang": tf.train.Feature(int64_list=tf.train.Int64List(value=[7])),
                "country": tf.train.Feature(bytes_list=tf.train.BytesList(value=[b"jp"])),
                "tags": tf.train.Feature(bytes_list=tf.train.BytesList(value=[b"a", b"b"])),
            }
        )
    )
    source = tmp_path / "examples.tfrecord"
    with tf.io.TFRecordWriter(str(source)) as writer:
        writer.write(example.SerializeToString())
    assert run("--data_spec", str(spec), "from-tfrecord", str(source), str(tmp_path / "out"))[0] == 0
    [record] = [_core.decode_data_record(r) for r in _core.BlockFileReader(str(tmp_path / "out"))]
    ids = {name: int(_core.feature_ids([name])[0]) for name in ("flag", "score", "lang", "country", "tags")}
    assert record == {
        "binary": [ids["flag"]],
        "continuous": {ids["score"]: 0.5},
        "discrete": {ids["lang"]: 7},
        "strings": {ids["country"]: b"jp"},
        "sparse_binary": {ids["tags"]: [b"a", b"b"]},
    }
    floats = tf.train.Example(
        features=tf.train.Features(feature={"many": tf.train.Feature(float_list=tf.train.FloatList(value=[1.0, 2.0]))})
    )
    with tf.io.TFRecordWriter(str(source)) as writer:
        writer.write(floats.SerializeToString())
    assert run("from-tfrecord", str(source), str(tmp_path / "bad"))[0] == 1


# --skip_corrupt: go on past damage and report it on stderr; without it, stop at the damage with
# an error naming the file and offset, after every intact record before it.

MARKER = bytes.fromhex("29d8d50658cd4c29b2bc57992171bdff")


@pytest.fixture(scope="module")
def damaged_files(tmp_path_factory):
    """A good file; a copy whose second block (of 3) has a corrupt length field; a copy whose
    record 15 does not decode; a copy whose third block's sync marker has a flipped bit."""
    directory = tmp_path_factory.mktemp("data")
    (good,) = synthetic_data.write_dataset(str(directory), num_files=1, records_per_file=30, records_per_block=10)
    with open(good, "rb") as f:
        data = f.read()
    first = data.find(MARKER)
    second = data.find(MARKER, first + 1)
    third = data.find(MARKER, second + 1)
    # Its low byte: the block now runs into the third, whose marker the rescan still finds. The
    # second block's own 10 records parse before the third's marker: they are intact.
    bad = bytearray(data)
    bad[second + 16] = 0xFF
    # Record 15's first field header gets type 1, which no DataRecord field has.
    record_15 = list(_core.BlockFileReader(good))[14]
    bad_record = bytearray(data)
    bad_record[data.find(record_15)] = 0x01
    flipped = bytearray(data)
    flipped[third + 3] ^= 0x20
    paths = []
    for name, content in [("bad", bad), ("bad_record", bad_record), ("flipped", flipped)]:
        paths.append(str(directory / name))
        with open(paths[-1], "wb") as f:
            f.write(bytes(content))
    return (good, *paths)


def test_damage_is_an_error_without_the_flag_after_the_intact_records(damaged_files, capsys):
    good, bad, bad_record, flipped = damaged_files
    code, cat_good = run("cat", good)
    lines = cat_good.splitlines()
    capsys.readouterr()
    code, output = run("cat", bad)
    assert code == 1 and output.splitlines() == lines[:20]
    (err,) = capsys.readouterr().err.splitlines()
    assert err.startswith("twml-records: %s: corrupt block at byte " % bad)
    code, output = run("cat", bad_record)
    assert code == 1 and output.splitlines() == lines[:14]
    (err,) = capsys.readouterr().err.splitlines()
    assert err.startswith("twml-records: %s: record 15: " % bad_record)
    assert "DataRecord: DataRecord" not in err
    code, output = run("cat", flipped)
    assert code == 1 and output.splitlines() == lines[:20]
    assert "bytes at byte" in capsys.readouterr().err


def test_count_skips_and_reports(damaged_files, capsys):
    good, bad, bad_record, flipped = damaged_files
    code, output = run("--skip_corrupt", "count", good, bad, bad_record, flipped)
    assert code == 0
    assert output.splitlines() == [
        "30\t%s" % good,
        "30\t%s" % bad,
        "29\t%s" % bad_record,
        "20\t%s" % flipped,
        "109\ttotal",
    ]
    reports = capsys.readouterr().err.splitlines()
    assert len(reports) == 3
    assert reports[0].startswith(
        "skipped in %s: 1 damaged blocks (after their intact records), 0 records that do not decode, "
        "0 bytes outside blocks; the last: %s: corrupt block at byte " % (bad, bad)
    )
    assert reports[1].startswith(
        "skipped in %s: 0 damaged blocks (after their intact records), 1 records that do not decode, "
        "0 bytes outside blocks; the last: %s: record 5 of the block at byte " % (bad_record, bad_record)
    )
    assert "(its bytes at byte " in reports[1] and "is not a valid DataRecord" in reports[1]
    assert reports[2].startswith("skipped in %s: 0 damaged blocks" % flipped)
    assert "bytes at byte" in reports[2] and "are not part of any block" in reports[2]


def test_cat_head_and_stats_skip(damaged_files, capsys):
    good, bad, bad_record, _ = damaged_files
    code, cat_good = run("cat", good)
    assert code == 0
    capsys.readouterr()
    lines = cat_good.splitlines()
    code, cat_bad = run("--skip_corrupt", "cat", bad)
    assert code == 0 and cat_bad.splitlines() == lines
    assert "1 damaged blocks" in capsys.readouterr().err
    code, cat_bad = run("--skip_corrupt", "cat", bad_record)
    assert code == 0 and cat_bad.splitlines() == lines[:14] + lines[15:]
    assert "1 records that do not decode" in capsys.readouterr().err

    # head stops inside the file after the damage, and still reports it.
    code, head = run("--skip_corrupt", "head", "-n", "22", bad)
    assert code == 0 and head.splitlines() == lines[:22]
    assert "skipped in %s: 1 damaged blocks" % bad in capsys.readouterr().err
    json.loads(head.splitlines()[0])

    code, output = run("--skip_corrupt", "stats", bad_record)
    assert code == 0 and output.startswith("29 records\n")
    assert "1 records that do not decode" in capsys.readouterr().err
