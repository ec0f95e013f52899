"""twml.spec_check: checking a data spec against a sample of the records it describes, before any work starts.

A data spec names each feature and its type; decoders keep a feature only under the type the
spec gives it. A spec that types a feature differently from the records (CONTINUOUS values typed
BINARY, a BINARY label typed CONTINUOUS) makes training read nothing for it without any error:
the model trains on missing features, and a missing label reads as all negatives (ROC-AUC 1.0 on
a single class). :func:`check_records_against_spec` reads the first records of the data with the
C++ core and turns such a mismatch into one clear error.
"""

from typing import Dict, Iterable, List, Sequence, Set

from libtwml import _core
from twml_common import data_spec
from twml_common.records_cli import read_records

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


def check_records_against_spec(spec_path: str, files: Sequence[str], labels: Iterable[str] = (),
                               max_records: int = 1000) -> int:
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
            mismatches.append("%r is %s in the spec but %s in the data" % (name, _type_name(feature_type),
                                                                           "/".join(sorted(kinds))))
    if mismatches:
        raise ValueError("data spec %s does not match %s (%d records): %d features are typed differently, e.g. %s"
                         % (spec_path, where, count, len(mismatches), "; ".join(mismatches[:3])))
    for label in labels:
        if label not in by_name:
            raise ValueError("data spec %s: the label %r is not one of its features" % (spec_path, label))
        feature_type = declared[by_name[label]][1]
        if KIND_OF_TYPE.get(feature_type) not in found.get(by_name[label], set()):
            raise ValueError("the label %r (%s in data spec %s) is in none of %s (%d records read); check the label "
                             "name and the data" % (label, _type_name(feature_type), spec_path, where, count))
    return count
