"""twml-records --skip_corrupt: go on past damage and report it on stderr; without it, stop at the
damage with an error naming the file and offset, after every intact record before it."""

import io
import json
import sys

import pytest

from libtwml import _core
from twml_common import records_cli, synthetic_data

MARKER = bytes.fromhex("29d8d50658cd4c29b2bc57992171bdff")


@pytest.fixture(scope="module")
def files(tmp_path_factory):
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


def run(*argv):
    out = io.StringIO()
    code = records_cli.main(list(argv), out=out)
    return code, out.getvalue()


def test_damage_is_an_error_without_the_flag_after_the_intact_records(files, capsys):
    good, bad, bad_record, flipped = files
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


def test_count_skips_and_reports(files, capsys):
    good, bad, bad_record, flipped = files
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


def test_cat_head_and_stats_skip(files, capsys):
    good, bad, bad_record, _ = files
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


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-p", "no:cacheprovider", "-q"]))
