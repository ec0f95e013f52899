"""Write the data spec of a list of feature names and types.

    tools/bazel run //tools:data_spec -- [--features FILE] [--output SPEC] [--binary]

FILE has one `<full feature name> <FeatureType>` per line (# starts a comment); by default it is
the light-ranker feature list twml_common/light_ranker_features.txt. Every id is computed twice, by
the C++ core through pybind11 and by the FeatureId op in a TensorFlow graph session, and the two
must agree. The table goes to stderr; the spec (JSON, or a Thrift FeatureMetaInfoList with
--binary) is written atomically to SPEC, or to stdout without --output.
"""

import argparse
import os
import sys
from typing import List, Optional

import tensorflow.compat.v1 as tf

import libtwml
from twml_common import data_spec


def ids_from_graph(names: List[str]) -> List[int]:
    """The ids of `names` as the FeatureId op computes them in a graph session."""
    with tf.Graph().as_default(), tf.Session() as session:
        return session.run(libtwml.ops.feature_id(feature_names=names)).tolist()


def user_path(path: str) -> str:
    """Relative paths are relative to where `bazel run` was called, not to the runfiles."""
    return os.path.join(os.environ.get("BUILD_WORKING_DIRECTORY", ""), path)


def main(argv: Optional[List[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--features", default=data_spec.LIGHT_RANKER_FEATURES, help="feature list file (default: light ranker)"
    )
    parser.add_argument("--output", help="data spec to write (default: stdout)")
    parser.add_argument("--binary", action="store_true", help="write a Thrift FeatureMetaInfoList, not JSON")
    args = parser.parse_args(argv)

    try:
        spec = data_spec.make_data_spec(data_spec.read_feature_list(user_path(args.features)))
    except (OSError, ValueError) as error:
        raise SystemExit("data_spec: %s" % error) from None
    names = [info.fullFeatureName for info in spec.contents]
    graph_ids = ids_from_graph(names) if names else []
    for info, graph_id in zip(spec.contents, graph_ids):
        if info.featureId != graph_id:
            raise SystemExit("data_spec: %r: core id %d != op id %d" % (info.fullFeatureName, info.featureId, graph_id))
        type_name = data_spec.FeatureType._VALUES_TO_NAMES[info.featureType]
        print("%21d  %-17s %s" % (info.featureId, type_name, info.fullFeatureName), file=sys.stderr)
    print("%d features; core and FeatureId op agree on every id" % len(names), file=sys.stderr)

    if args.output:
        data_spec.write_data_spec(spec, user_path(args.output), binary=args.binary)
        print("wrote %s" % user_path(args.output), file=sys.stderr)
    elif args.binary:
        sys.stdout.buffer.write(data_spec.serialize(spec))
    else:
        sys.stdout.write(data_spec.to_json(spec))


if __name__ == "__main__":
    main()
