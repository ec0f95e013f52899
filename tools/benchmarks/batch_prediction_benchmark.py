"""Batch-prediction benchmark: the twml-batch-predict job against the same SavedModel's pure
compute, and its peak memory as the input grows 16x.

    tools/bazel run -c opt //tools/benchmarks:batch_prediction_benchmark [-- --threads 2 --records 20000]

Prepared before anything is timed: a small trained export (``twml.tests.small_export``: a
``full_sparse`` logistic regression over the light-ranker features) and ``--files`` LZO block
files of synthetic light-ranker records (``--records`` in all); the 16x input is the same files
listed 16 times under other names (hard links).

* pure compute: the records, read once into memory and packed into BatchPredictionRequests of
  ``--batch_size`` beforehand, fed straight to the ``serving_default`` signature, its
  ``prediction`` output fetched (one session, ``--threads`` intra/inter-op threads);
* job: ``twml-batch-predict --output_format datarecord`` in a subprocess over the files on disk
  (read, decompressed, predicted, DataRecord parts written with manifests), same threads; its
  records/s over its scoring time (model loading excluded), peak RSS from the child's rusage;
* context: ``SavedModelPredictor.predict_records`` over ``records_cli.read_records`` in one loop.

Target: job / pure compute >= 0.8; the job's peak RSS at 16x within 10% of 1x (flat).
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from typing import Any, Dict, List

import numpy as np
import tensorflow.compat.v1 as tf

from libtwml import _core
from twml.batch_prediction import SavedModelPredictor, encode_batch_prediction_request
from twml.tests.small_export import train_small_export, write_data
from twml_common.block_files import read_records


def _job(export: str, inputs: List[str], out: str, threads: int, batch_size: int) -> Dict[str, Any]:
    environment = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    command = [
        sys.executable,
        "-m",
        "twml.batch_prediction_job",
        "--export_dir",
        export,
        "--input",
        *inputs,
        "--output_dir",
        out,
        "--threads",
        str(threads),
        "--batch_size",
        str(batch_size),
        "--overwrite",
    ]
    process = subprocess.Popen(command, env=environment, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    stdout = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    if status != 0:
        raise RuntimeError("the job failed (status %d): %s" % (status, " ".join(command)))
    summary = json.loads(stdout.strip().splitlines()[-1].split("summary: ", 1)[1])
    return {
        "records_per_s": summary["records_per_s"],
        "records": summary["records"],
        "peak_rss_mb": usage.ru_maxrss / 1024.0,
    }


def _pure_compute(export: str, records: List[bytes], threads: int, batch_size: int, repeats: int) -> float:
    requests = [
        np.frombuffer(encode_batch_prediction_request(records[i : i + batch_size]), np.uint8)
        for i in range(0, len(records), batch_size)
    ]
    config = tf.ConfigProto(intra_op_parallelism_threads=threads, inter_op_parallelism_threads=threads)
    with tf.Graph().as_default(), tf.Session(config=config) as session:
        signature = tf.saved_model.loader.load(session, ["serve"], export).signature_def["serving_default"]
        request, prediction = signature.inputs["request"].name, signature.outputs["prediction"].name
        session.run(prediction, {request: requests[0]})
        best = 0.0
        for _ in range(repeats):
            start = time.perf_counter()
            for batch in requests:
                session.run(prediction, {request: batch})
            best = max(best, len(records) / (time.perf_counter() - start))
    return best


def _predictor_loop(export: str, files: List[str], threads: int, batch_size: int) -> float:
    config = tf.ConfigProto(intra_op_parallelism_threads=threads, inter_op_parallelism_threads=threads)
    with SavedModelPredictor(export, session_config=config) as predictor:
        start = time.perf_counter()
        count = sum(len(batch) for batch in predictor.predict_records(read_records(files), batch_size))
        return count / (time.perf_counter() - start)


def main(argv: List[str] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=40000, help="records of the 1x input")
    parser.add_argument("--files", type=int, default=4)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch_size", type=int, default=512)
    parser.add_argument("--repeats", type=int, default=3, help="runs per measurement; the best counts")
    parser.add_argument("--work", help="a directory to keep the data and model in (default: a temporary one)")
    args = parser.parse_args(argv)

    work = args.work or tempfile.mkdtemp(prefix="twml-bp-bench-")
    files = write_data(os.path.join(work, "data"), args.files, args.records // args.files, compression="lzo")
    train = write_data(os.path.join(work, "train"), 1, 2000)
    export = train_small_export(os.path.join(work, "m"), train, steps=40)["export"]
    big = os.path.join(work, "data16")
    os.makedirs(big, exist_ok=True)
    big_files = []
    for copy in range(16):
        for path in files:
            target = os.path.join(big, "c%02d-%s" % (copy, os.path.basename(path)))
            if not os.path.exists(target):
                os.link(path, target)
            big_files.append(target)
    records = [r for path in files for r in _core.BlockFileReader(path)]
    print(
        "data: %d records in %d LZO files (%.1f MB); 16x: %d files; model: %s"
        % (len(records), len(files), sum(os.path.getsize(p) for p in files) / 1e6, len(big_files), export)
    )

    pure = _pure_compute(export, records, args.threads, args.batch_size, args.repeats)
    jobs = []
    for repeat in range(args.repeats):
        jobs.append(_job(export, files, os.path.join(work, "out-1x-%d" % repeat), args.threads, args.batch_size))
    job = max(jobs, key=lambda j: j["records_per_s"])
    job16 = _job(export, big_files, os.path.join(work, "out-16x"), args.threads, args.batch_size)
    loop = _predictor_loop(export, files, args.threads, args.batch_size)
    ratio = job["records_per_s"] / pure
    rss_growth = job16["peak_rss_mb"] / min(j["peak_rss_mb"] for j in jobs)
    print("pure compute (in-memory requests -> serving_default, response fetched): %10.0f records/s" % pure)
    print(
        "twml-batch-predict, 1x (%7d records):  %10.0f records/s  peak RSS %6.0f MB"
        % (job["records"], job["records_per_s"], job["peak_rss_mb"])
    )
    print(
        "twml-batch-predict, 16x (%7d records): %10.0f records/s  peak RSS %6.0f MB"
        % (job16["records"], job16["records_per_s"], job16["peak_rss_mb"])
    )
    print("SavedModelPredictor.predict_records loop (context):        %10.0f records/s" % loop)
    print("job / pure compute: %.2f (target >= 0.8); peak RSS 16x / 1x: %.2f (target <= 1.1)" % (ratio, rss_growth))
    return 0 if ratio >= 0.8 and rss_growth <= 1.1 else 1


if __name__ == "__main__":
    sys.exit(main())
