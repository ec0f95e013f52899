"""twml.spec_check: checks of the data before any work starts — the data spec against a sample
of the records it describes, and the corrupt records of a skip-corrupt training run.

A data spec names each feature and its type; decoders keep a feature only under the type the
spec gives it. A spec that types a feature differently from the records (CONTINUOUS values typed
BINARY, a BINARY label typed CONTINUOUS) makes training read nothing for it without any error:
the model trains on missing features, and a missing label reads as all negatives (ROC-AUC 1.0 on
a single class). :func:`check_records_against_spec` reads the first records of the data with the
C++ core and turns such a mismatch into one clear error.
"""

import logging
from typing import Dict, Iterable, List, NamedTuple, Sequence, Set, Tuple

from libtwml import _core
from twml_common import data_spec
from twml_common.block_files import read_records

_LOG = logging.getLogger(__name__)

FeatureType = data_spec.FeatureType

#: The record-dict kind (libtwml._core.decode_data_record) each feature type is stored under.
KIND_OF_TYPE = {
    FeatureType.BINARY: "binary",
    FeatureType.CONTINUOUS: "continuous",
    FeatureType.DISCRETE: "discrete",
    FeatureType.STRING: "strings",
    FeatureType.SPARSE_BINARY: "sparse_binary",
    FeatureType.SPARSE_CONTINUOUS: "sparse_continuous",
    FeatureType.BLOB: "blobs",
    FeatureType.TENSOR: "tensors",
}


def _type_name(feature_type: int) -> str:
    return FeatureType._VALUES_TO_NAMES.get(feature_type, str(feature_type))


def sample_feature_kinds(files: Sequence[str], max_records: int) -> Dict[str, object]:
    """Reads at most ``max_records`` records from ``files`` (in order).

    Returns:
      ``{"records": number read, "kinds": {feature id: set of kinds it was found under}}``.
    """
    kinds: Dict[int, Set[str]] = {}
    count = 0
    records = read_records(files)
    try:
        for data in records:
            for kind, values in _core.decode_data_record(data).items():
                for feature_id in values:
                    kinds.setdefault(int(feature_id), set()).add(kind)
            count += 1
            if count >= max_records:
                break
    finally:
        records.close()
    return {"records": count, "kinds": kinds}


def check_records_against_spec(
    spec_path: str, files: Sequence[str], labels: Iterable[str] = (), max_records: int = 1000
) -> int:
    """Checks the data spec ``spec_path`` against the first ``max_records`` records of ``files``.

    Args:
      spec_path: the data spec (JSON or Thrift).
      files: block files of the data, read in order until ``max_records`` records.
      labels: full names of the label features: each must be in the spec and present, under its
        spec type, in at least one sampled record.
      max_records: records to sample.

    Returns:
      the number of records read.

    Raises:
      ValueError: no record in ``files``; a feature of the spec found in the records under another
        type than the spec's (the message names the spec, the feature, both types and the files);
        a label missing from the spec or from every sampled record.
    """
    if not files:
        raise ValueError("no data files to check the data spec %s against" % spec_path)
    spec = data_spec.read_data_spec(spec_path)
    declared = {int(info.featureId): (info.fullFeatureName, info.featureType) for info in spec.contents or []}
    by_name = {name: feature_id for feature_id, (name, _) in declared.items()}
    more = "" if len(files) == 1 else " (and %d more files)" % (len(files) - 1)
    where = "the first records of %s%s" % (files[0], more)
    sample = sample_feature_kinds(files, max_records)
    count = int(sample["records"])
    if count == 0:
        raise ValueError("%s: no records to check the data spec %s against" % (where, spec_path))
    found: Dict[int, Set[str]] = sample["kinds"]  # type: ignore[assignment]
    mismatches: List[str] = []
    for feature_id, kinds in sorted(found.items()):
        if feature_id not in declared:
            continue
        name, feature_type = declared[feature_id]
        expected = KIND_OF_TYPE.get(feature_type)
        if expected is not None and expected not in kinds:
            mismatches.append(
                "%r is %s in the spec but %s in the data" % (name, _type_name(feature_type), "/".join(sorted(kinds)))
            )
    if mismatches:
        raise ValueError(
            "data spec %s does not match %s (%d records): %d features are typed differently, e.g. %s"
            % (spec_path, where, count, len(mismatches), "; ".join(mismatches[:3]))
        )
    for label in labels:
        if label not in by_name:
            raise ValueError("data spec %s: the label %r is not one of its features" % (spec_path, label))
        feature_type = declared[by_name[label]][1]
        if KIND_OF_TYPE.get(feature_type) not in found.get(by_name[label], set()):
            raise ValueError(
                "the label %r (%s in data spec %s) is in none of %s (%d records read); check the label "
                "name and the data" % (label, _type_name(feature_type), spec_path, where, count)
            )
    return count


class CorruptRecords(NamedTuple):
    """What skip-corrupt reading of some files drops (see :func:`scan_corrupt_records`)."""

    records: int
    skipped_records: int
    skipped_blocks: int
    skipped_bytes: int
    #: ``(file, skipped records, skipped blocks, skipped bytes, last damage)`` per damaged file.
    damaged: List[Tuple[str, int, int, int, str]]

    @property
    def ratio(self) -> float:
        """Skipped records / all records (0 without records)."""
        total = self.records + self.skipped_records
        return self.skipped_records / float(total) if total else 0.0


def scan_corrupt_records(files: Sequence[str]) -> CorruptRecords:
    """Reads ``files`` through the C++ core in skip-corrupt mode (no TensorFlow) and counts what
    that mode drops — as the trainer's ``--skip_corrupt_records`` pipeline will: records in
    damaged blocks or not decoding, damaged blocks, bytes outside blocks."""
    records = skipped_records = skipped_blocks = skipped_bytes = 0
    damaged = []
    for path in files:
        reader = _core.BlockFileReader(path, "auto", skip_corrupt=True)
        records += sum(1 for _ in reader)
        file_bytes = int(getattr(reader, "skipped_bytes", 0))
        skipped_records += int(reader.skipped_records)
        skipped_blocks += int(reader.skipped_blocks)
        skipped_bytes += file_bytes
        if reader.skipped_records or reader.skipped_blocks or file_bytes:
            damaged.append(
                (
                    path,
                    int(reader.skipped_records),
                    int(reader.skipped_blocks),
                    file_bytes,
                    str(reader.last_skip_message),
                )
            )
    return CorruptRecords(records, skipped_records, skipped_blocks, skipped_bytes, damaged)


def check_corrupt_records(files: Sequence[str], max_ratio: float, what: str = "training") -> CorruptRecords:
    """:func:`scan_corrupt_records` of ``files``, logged (totals, then each damaged file), and the
    limit of a skip-corrupt run: the share of dropped records must not exceed ``max_ratio``. (The
    records of a damaged block after its damage cannot be counted, so the share is a lower bound
    when blocks are damaged; their number is logged too.)

    Raises:
      ValueError: more than ``max_ratio`` of the records are corrupt (naming the counts, the flag
        and the first damaged file).
    """
    _LOG.info("--skip_corrupt_records: scanning %d %s files for corrupt records", len(files), what)
    scan = scan_corrupt_records(files)
    total = scan.records + scan.skipped_records
    _LOG.warning(
        "--skip_corrupt_records: %d corrupt records skipped of %d (%.4f%%), %d damaged blocks, %d bytes "
        "outside blocks, in %d of %d %s files",
        scan.skipped_records,
        total,
        100.0 * scan.ratio,
        scan.skipped_blocks,
        scan.skipped_bytes,
        len(scan.damaged),
        len(files),
        what,
    )
    for path, file_records, blocks, file_bytes, message in scan.damaged:
        _LOG.warning(
            "--skip_corrupt_records: %s: %d records, %d blocks, %d bytes skipped (%s)",
            path,
            file_records,
            blocks,
            file_bytes,
            message,
        )
    if scan.ratio > max_ratio:
        path, _, _, _, message = scan.damaged[0]
        raise ValueError(
            "%d of %d %s records (%.4f%%) are corrupt, more than --max_corrupt_records_ratio %g; not "
            "training (first damaged file: %s: %s)"
            % (scan.skipped_records, total, what, 100.0 * scan.ratio, max_ratio, path, message)
        )
    return scan
