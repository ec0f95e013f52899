"""Data spec files: JSON and Thrift forms, and clear errors for malformed ones."""

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
        (
            '{"contents": [{"featureId": 1, "fullFeatureName": "a", "featureType": "NOPE"}]}',
            r"contents\[0\]: unknown feature type 'NOPE'",
        ),
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
    with pytest.raises(
        ValueError,
        match=r"spec.bin: neither JSON nor a valid serialized FeatureMetaInfoList: .*contents: 2147483647 elements",
    ):
        data_spec.read_data_spec(str(path))
    path.write_bytes(b"\x0f\x00garbage")
    with pytest.raises(ValueError, match="spec.bin: neither JSON nor a valid serialized FeatureMetaInfoList"):
        data_spec.read_data_spec(str(path))
    path.write_bytes(b"\xff\xfe not utf-8")
    with pytest.raises(ValueError, match="spec.bin: neither JSON nor a valid serialized FeatureMetaInfoList"):
        data_spec.read_data_spec(str(path))
    incomplete = data_spec.FeatureMetaInfoList(contents=[data_spec.FeatureMetaInfo(featureId=1)])
    path.write_bytes(serialize(incomplete))
    with pytest.raises(ValueError, match=r"contents\[0\]: missing"):
        data_spec.read_data_spec(str(path))


def test_thrift_with_an_unknown_huge_field_fails_at_once(tmp_path):
    # 40 bytes: an unknown map field (id 9) declaring 2^31 - 1 entries. Skipping it used to spin
    # at full CPU; the core checks the count against the bytes left.
    data = b"\x0d\x00\x09\x0a\x0a\x7f\xff\xff\xff" + bytes(30) + b"\x00"
    assert len(data) == 40
    path = tmp_path / "spec.bin"
    path.write_bytes(data)
    with pytest.raises(ValueError, match="2147483647 elements cannot fit in the 31 bytes left"):
        data_spec.read_data_spec(str(path))
    # An unknown field that does fit is skipped, as generated Thrift code does.
    good = serialize(data_spec.FeatureMetaInfoList(contents=[data_spec.FeatureMetaInfo(1, "a", 2)]))
    extra = good[:-1] + b"\x0b\x00\x07" + b"\x00\x00\x00\x02hi" + b"\x00"
    path.write_bytes(extra)
    spec = data_spec.read_data_spec(str(path))
    assert [(i.featureId, i.fullFeatureName, i.featureType) for i in spec.contents] == [(1, "a", 2)]


def test_thrift_with_an_unknown_type_or_a_bad_name_is_rejected(tmp_path):
    path = tmp_path / "spec.bin"
    path.write_bytes(serialize(data_spec.FeatureMetaInfoList(contents=[data_spec.FeatureMetaInfo(1, "a", 99)])))
    with pytest.raises(ValueError, match=r"spec.bin: contents\[0\]: unknown feature type 99"):
        data_spec.read_data_spec(str(path))
    # "a" -> "\xff": the name's bytes are not UTF-8.
    data = serialize(data_spec.FeatureMetaInfoList(contents=[data_spec.FeatureMetaInfo(1, "a", 2)]))
    path.write_bytes(data.replace(b"\x00\x00\x00\x01a", b"\x00\x00\x00\x01\xff"))
    with pytest.raises(ValueError, match=r"spec.bin: contents\[0\]: fullFeatureName is not valid UTF-8 \(byte 0\)"):
        data_spec.read_data_spec(str(path))
