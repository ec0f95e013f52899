"""twml-records --skip_corrupt: go on past corrupt blocks and report them on stderr."""

import io
import json
import sys

import pytest

from twml_common import records_cli, synthetic_data

MARKER = bytes.fromhex("29d8d50658cd4c29b2bc57992171bdff")


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A good file and a copy of it whose second block (of 3) has a corrupt length field."""
    directory = tmp_path_factory.mktemp("data")
    (good,) = synthetic_data.write_dataset(str(directory), num_files=1, records_per_file=30, records_per_block=10)
    with open(good, "rb") as f:
        data = bytearray(f.read())
    second = data.find(MARKER, data.find(MARKER) + 1)
    # Its low byte: the block now runs into the third, whose marker the rescan still finds. The
    # second block's own 10 records parse before the third's marker, so they are counted.
    data[second + 16] = 0xFF
    bad = str(directory / "bad")
    with open(bad, "wb") as f:
        f.write(bytes(data))
    return good, bad


def run(*argv):
    out = io.StringIO()
    code = records_cli.main(list(argv), out=out)
    return code, out.getvalue()


def test_corrupt_file_is_an_error_without_the_flag(files, capsys):
    _, bad = files
    assert run("count", bad)[0] == 1
    err = capsys.readouterr().err
    assert err.startswith("twml-records: %s: corrupt block at byte " % bad)


def test_count_skips_and_reports(files, capsys):
    good, bad = files
    code, output = run("--skip_corrupt", "count", good, bad)
    assert code == 0
    assert output.splitlines() == ["30\t%s" % good, "20\t%s" % bad, "50\ttotal"]
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith("skipped 1 blocks (10 records) in %s: %s: corrupt block at byte " % (bad, bad))


def test_cat_head_and_stats_skip(files, capsys):
    good, bad = files
    code, cat_good = run("cat", good)
    assert code == 0
    capsys.readouterr()
    code, cat_bad = run("--skip_corrupt", "cat", bad)
    assert code == 0
    lines = cat_good.splitlines()
    assert cat_bad.splitlines() == lines[:10] + lines[20:]
    assert "skipped 1 blocks" in capsys.readouterr().err

    # head stops inside the file after the bad block, and still reports it.
    code, head = run("--skip_corrupt", "head", "-n", "12", bad)
    assert code == 0 and head.splitlines() == lines[:10] + lines[20:22]
    assert "skipped 1 blocks (10 records) in %s" % bad in capsys.readouterr().err
    json.loads(head.splitlines()[0])

    code, output = run("--skip_corrupt", "stats", bad)
    assert code == 0 and output.startswith("20 records\n")
    assert "skipped 1 blocks" in capsys.readouterr().err


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-p", "no:cacheprovider", "-q"]))
