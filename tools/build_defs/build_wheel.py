"""Write a wheel (PEP 427) from a manifest of files; the action behind py_wheel.bzl.

The output is reproducible: entries are sorted and carry a fixed timestamp, so the same inputs
give the same bytes.
"""

import argparse
import base64
import hashlib
import os
import re
import zipfile
from typing import Dict, List, Tuple

_FIXED_TIME = (1980, 1, 1, 0, 0, 0)
_LOCK_LINE = re.compile(r"^([A-Za-z0-9_.\-]+)==([^\s;\\]+)\s*(?:;\s*([^\\]+?))?\s*\\?$")


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pinned_requirements(lock_file: str, names: List[str]) -> List[str]:
    """`name==version[; marker]` for each named distribution, from a pip-compile style lock."""
    wanted = {normalize(name) for name in names}
    found: Dict[str, List[str]] = {}
    with open(lock_file, encoding="utf-8") as lock:
        for line in lock:
            match = _LOCK_LINE.match(line.strip())
            if not match or normalize(match.group(1)) not in wanted:
                continue
            name, version, marker = match.groups()
            requirement = "%s==%s" % (normalize(name), version)
            if marker:
                requirement += " ; " + marker.replace("'", '"')
            found.setdefault(normalize(name), []).append(requirement)
    missing = sorted(wanted - set(found))
    if missing:
        raise SystemExit("%s pins no version of: %s" % (lock_file, ", ".join(missing)))
    return [requirement for name in sorted(found) for requirement in found[name]]


def read_manifest(path: str, strip_prefixes: List[str]) -> List[Tuple[str, str]]:
    entries = []
    with open(path, encoding="utf-8") as manifest:
        for line in manifest:
            archive_path, file_path = line.rstrip("\n").split("\t")
            for prefix in strip_prefixes:
                if archive_path.startswith(prefix):
                    archive_path = archive_path[len(prefix) :]
                    break
            entries.append((archive_path, file_path))
    return sorted(entries)


def record_line(archive_path: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return "%s,sha256=%s,%d" % (archive_path, digest, len(data))


def write_wheel(args: argparse.Namespace) -> None:
    dist_info = "%s-%s.dist-info" % (args.distribution, args.version)
    metadata = ["Metadata-Version: 2.1", "Name: " + args.distribution, "Version: " + args.version]
    metadata.append("Summary: twml, the DataRecord machine-learning framework on TensorFlow 1 graphs")
    metadata.append("Requires-Python: ==%s.%s.*" % (args.python_tag[2], args.python_tag[3:]))
    metadata += ["Requires-Dist: " + r for r in pinned_requirements(args.lock_file, args.requirement)]
    wheel_file = [
        "Wheel-Version: 1.0",
        "Generator: twml tools/build_defs/build_wheel.py",
        "Root-Is-Purelib: false",
        "Tag: %s-%s-linux_x86_64" % (args.python_tag, args.python_tag),
    ]
    contents = []
    for archive_path, file_path in read_manifest(args.manifest, args.strip_path_prefix):
        with open(file_path, "rb") as source:
            contents.append((archive_path, source.read()))
    contents.append((dist_info + "/METADATA", ("\n".join(metadata) + "\n").encode()))
    contents.append((dist_info + "/WHEEL", ("\n".join(wheel_file) + "\n").encode()))
    if args.console_script:
        entry_points = ["[console_scripts]"] + [" = ".join(script.split("=", 1)) for script in args.console_script]
        contents.append((dist_info + "/entry_points.txt", ("\n".join(entry_points) + "\n").encode()))

    records = [record_line(path, data) for path, data in contents]
    records.append(dist_info + "/RECORD,,")
    contents.append((dist_info + "/RECORD", ("\n".join(records) + "\n").encode()))

    temporary = args.output + ".tmp"
    with zipfile.ZipFile(temporary, "w", compression=zipfile.ZIP_DEFLATED) as wheel:
        for archive_path, data in contents:
            info = zipfile.ZipInfo(archive_path, date_time=_FIXED_TIME)
            executable = archive_path.endswith(".so")
            info.external_attr = (0o755 if executable else 0o644) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            wheel.writestr(info, data)
    os.replace(temporary, args.output)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--output", required=True)
    parser.add_argument("--manifest", required=True, help="lines of '<path in wheel>\\t<file>'")
    parser.add_argument("--distribution", required=True)
    parser.add_argument("--version", required=True)
    parser.add_argument("--python_tag", required=True, help="e.g. cp311")
    parser.add_argument("--lock_file", required=True)
    parser.add_argument("--requirement", action="append", default=[])
    parser.add_argument("--strip_path_prefix", action="append", default=[])
    parser.add_argument("--console_script", action="append", default=[], help="name=module:function")
    write_wheel(parser.parse_args())


if __name__ == "__main__":
    main()
