"""`dml synthesize --format tfrecord` as an Apache Beam pipeline, for pair sets too large for one machine.

    pip install "dml-keras[beam]"
    python -m dml_keras.beam dml_realsr_x4 photos/ --out pairs/ --runner direct
    dml synthesize dml_realsr_x4 photos/ --out pairs/ --format tfrecord --runner DataflowRunner \\
        --beam-args "--project P --region R --temp_location gs://bucket/tmp"

The pipeline lists the photos, hands each incomplete shard (`dml_keras.workflows.shards`)
to a worker, which loads the degradation once (`DoFn.setup`) and writes the shard
and its sidecar, then writes `manifest.json`. Shards are written whole by the
same function as the single-process command, so the files are byte-identical;
a rerun skips complete shards, so a killed pipeline resumes. The photos, the
model file and `--out` must be paths every worker can read and write (one
machine, or a shared filesystem).
"""

import sys

from dml_keras.workflows.shards import RUNNERS, run_pipeline  # noqa: F401  (the pipeline, for Python users)


def main(argv=None):
    """`python -m dml_keras.beam ARGS`: `dml synthesize ARGS --format tfrecord`, on `--runner` (default direct)."""
    from dml_keras.cli import main as cli_main

    argv = list(sys.argv[1:] if argv is None else argv)
    if "--runner" not in argv:
        argv += ["--runner", "direct"]
    return cli_main(["synthesize", *argv, "--format", "tfrecord"])


if __name__ == "__main__":
    sys.exit(main())
