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

from dml_keras.workflows.shards import completed_shard, write_manifest, write_pair_shard

RUNNERS = {"direct": "DirectRunner", "dataflow": "DataflowRunner", "flink": "FlinkRunner", "spark": "SparkRunner"}


def _beam():
    try:
        import apache_beam
    except ImportError:
        from dml_keras.errors import SetupError

        raise SetupError('--runner needs Apache Beam: pip install "dml-keras[beam]" (or pip install apache-beam), '
                         "or drop --runner to write the shards in this process.") from None
    return apache_beam


def _write_shards_fn(beam, spec, count):
    class WriteShards(beam.DoFn):
        """Writes the shards it is given; the degradation is loaded once per worker."""

        def setup(self):
            self.model = spec.load()

        def process(self, element):
            index, photos = element
            note = write_pair_shard(spec, self.model, index, count, photos)
            yield {key: note[key] for key in ("file", "examples", "bytes")}

    return WriteShards()


def run_pipeline(spec, runner="direct", beam_args=()):
    """Write the TFRecord shards of `spec` (a `SynthesisSpec`) with a Beam pipeline on `runner`
    (`direct`, `dataflow`, `flink`, `spark` or any Beam runner name) and return the manifest.

    `beam_args`: further Beam pipeline options, e.g. `["--direct_num_workers", "2"]`.
    """
    beam = _beam()
    from apache_beam.options.pipeline_options import PipelineOptions

    spec.check_out_dir()
    photos = spec.photos()
    count = spec.shard_count(photos)
    todo = [(k, [str(p) for p in spec.shard_photos(k, photos)]) for k in range(count)
            if completed_shard(spec, k, count) is None]
    options = PipelineOptions(["--runner", RUNNERS.get(runner, runner), *beam_args])
    if todo:
        with beam.Pipeline(options=options) as pipeline:
            _ = (pipeline
                 | "shards" >> beam.Create(todo)
                 | "spread" >> beam.Reshuffle()
                 | "synthesize" >> beam.ParDo(_write_shards_fn(beam, spec, count)))
    return write_manifest(spec, spec.load(), count, photos)


def main(argv=None):
    """`python -m dml_keras.beam ARGS`: `dml synthesize ARGS --format tfrecord`, on `--runner` (default direct)."""
    from dml_keras.cli import main as cli_main

    argv = list(sys.argv[1:] if argv is None else argv)
    if "--runner" not in argv:
        argv += ["--runner", "direct"]
    return cli_main(["synthesize", *argv, "--format", "tfrecord"])


if __name__ == "__main__":
    sys.exit(main())
