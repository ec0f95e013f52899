"""Data spec files: JSON and Thrift forms, and clear errors for malformed ones."""

import sys

import pytest

from twml_common import data_spec, serialize


def spec():
    return data_spec.make_data_spec([("ebd.has_diff_lang", "BINARY"), ("tweet.hashtags", "sparse_binary")])


@pytest.mark.parametrize("binary", [False, True])
def test_round_trip(tmp_path, binary):
    path = tmp_path / "spec"
    data_spec.write_data_spec(spec(), str(path), binary=binary)
    assert data_spec.read_data_spec(str(path)) == spec()
    assert spec().contents[0].featureId == 2086305051125082499


def test_write_replaces_atomically(tmp_path):
    path = tmp_path / "spec.json"
    path.write_text("old")
    data_spec.write_data_spec(spec(), str(path))
    assert data_spec.read_data_spec(str(path)) == spec()
    assert [p.name for p in tmp_path.iterdir()] == ["spec.json"]


@pytest.mark.parametrize(
    "text, message",
    [
        ("{nope", r"spec.json: not valid JSON"),
        ("[]", r'spec.json: expected an object \{"contents": \[...\]\}'),
        ('{"contents": [1]}', r"spec.json: contents\[0\]: expected an object"),
        ('{"contents": [{"featureId": 1, "featureType": "BINARY"}]}', r"contents\[0\]: missing fullFeatureName"),
        ('{"contents": [{"featureId": 1e3, "fullFeatureName": "a", "featureType": "BINARY"}]}', "signed 64-bit"),
        ('{"contents": [{"featureId": 9223372036854775808, "fullFeatureName": "a", "featureType": 1}]}', "64-bit"),
        ('{"contents": [{"featureId": 1, "fullFeatureName": "a", "featureType": "NOPE"}]}',
         r"contents\[0\]: unknown feature type 'NOPE'"),
    ],
)
def test_malformed_json_fails_clearly(tmp_path, text, message):
    path = tmp_path / "spec.json"
    path.write_text(text)
    with pytest.raises(ValueError, match=message):
        data_spec.read_data_spec(str(path))


def test_malformed_thrift_fails_clearly_without_allocating(tmp_path):
    path = tmp_path / "spec.bin"
    path.write_bytes(b"\x0f\x00\x01\x0c\x7f\xff\xff\xff\x00")  # declares 2^31 - 1 entries in 9 bytes
    with pytest.raises(ValueError, match=r"spec.bin: byte 4: list of 2147483647 entries in a 9-byte file"):
        data_spec.read_data_spec(str(path))
    path.write_bytes(b"\x0f\x00garbage")
    with pytest.raises(ValueError, match="neither JSON nor a serialized FeatureMetaInfoList"):
        data_spec.read_data_spec(str(path))
    path.write_bytes(b"\xff\xfe not utf-8")
    with pytest.raises(ValueError, match="spec.bin: neither JSON nor a serialized FeatureMetaInfoList"):
        data_spec.read_data_spec(str(path))
    incomplete = data_spec.FeatureMetaInfoList(contents=[data_spec.FeatureMetaInfo(featureId=1)])
    path.write_bytes(serialize(incomplete))
    with pytest.raises(ValueError, match=r"contents\[0\]: missing"):
        data_spec.read_data_spec(str(path))


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-p", "no:cacheprovider", "-q"]))
