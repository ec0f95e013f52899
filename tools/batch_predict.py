"""`tools/bazel run //tools:batch_predict -- --export_dir ... --input ... --output_dir ...`: the
twml-batch-predict job (twml.batch_prediction_job); `-- --help` lists the flags."""

import sys

from twml.batch_prediction_job import main

if __name__ == "__main__":
    sys.exit(main())
