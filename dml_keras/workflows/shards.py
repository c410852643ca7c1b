"""Synthesis to TFRecord shards (`dml synthesize --format tfrecord`), the part every runner shares.

The clean photos, sorted by file name, are cut into shards of
`examples_per_shard` photos: shard `k` holds photos `k·n … k·n + n - 1`.
`write_pair_shard` makes one shard whole; the single-process command loops
over the shards, the Beam pipeline (`dml_keras.beam`) hands them to its
workers, so both write the same bytes. Each pair depends only on its photo,
the seed and the degradation (stateless noise keyed by the file name), so
any shard size gives the same set of pairs.

A shard counts as complete once its sidecar JSON exists (written after the
shard file, both atomically); a rerun skips complete shards, so a killed run
resumes where it stopped. `manifest.json` gathers the sidecars and the run's
settings when a run ends.
"""

import functools
import hashlib
import json
import os
from pathlib import Path

from tqdm.auto import tqdm

from dml_keras.data import records
from dml_keras.data.files import write_json
from dml_keras.data.io import encode_png
from dml_keras.errors import DataError


def load_degradation(spec):
    """The degradation model of `spec` (a resolved `specs.SynthesisRun`), loaded as `dml synthesize` loads it."""
    from dml_keras.loading import load_model

    source = spec.source
    return load_model(source.model, kind="degradation", scale=source.scale, lr_size=source.lr_size,
                      noise=spec.noise.noise_model)


def photos_of(spec):
    """The clean photos of `spec`, sorted by file name."""
    from dml_keras.data.synthesis import list_images

    return list_images(spec.source.hr_dir)


def noise_for(spec, model):
    """The sensor noise sigma the pairs get: the spec's, or `model`'s default (`default_noise_sigma`)."""
    from dml_keras.data.synthesis import default_noise_sigma

    return default_noise_sigma(model) if spec.noise.noise_sigma is None else spec.noise.noise_sigma


def run_id(spec):
    """A short id of everything that decides the pairs and their shards (not the folders): shards of one run
    may be completed by another process only if this id is the same."""
    settings = {k: v for k, v in spec.flat().items() if k not in ("hr_dir", "out_dir", "tile_size")}
    settings["degradation"] = degradation_id(spec.source.model)
    return hashlib.sha256(json.dumps(settings, sort_keys=True, default=list).encode()).hexdigest()[:16]


def check_out_dir(spec):
    """Refuse an `out_dir` that holds shards of another run (other settings, model or shard size); returns the
    run's id."""
    run, out_dir = run_id(spec), spec.output.out_dir
    for shard in records.shard_files(out_dir) if os.path.isdir(out_dir) else []:
        note = records.read_sidecar(shard)
        if note is not None and note.get("run") != run:
            raise DataError(f"'{out_dir}' holds shards of another synthesis ({Path(shard).name}: other settings, "
                            "model or --examples-per-shard). Give a new --out, or delete those shards to redo them.")
    return run


def check_png_folder(spec):
    """Record the settings of a PNG synthesis in `out_dir/synthesis.json`, or refuse a folder that holds pairs of
    other settings (a rerun would keep their LR and mix the two)."""
    from dml_keras.data.io import is_image_file

    source, noise, out_dir = spec.source, spec.noise, spec.output.out_dir
    record = os.path.join(out_dir, "synthesis.json")
    run = run_id(spec)
    if os.path.exists(record):
        try:
            with open(record) as handle:
                recorded = json.load(handle).get("run")
        except (OSError, ValueError, AttributeError):
            recorded = None
        if recorded != run:
            raise DataError(f"'{out_dir}' holds pairs of another synthesis (other settings or model: "
                            f"{record}). Give a new --out, or delete that folder to redo them.")
        return
    lr_dir = os.path.join(out_dir, "lr")
    if os.path.isdir(lr_dir) and any(is_image_file(name) for name in os.listdir(lr_dir)):
        raise DataError(f"'{out_dir}' holds pairs whose settings were not recorded. Give a new --out, or "
                        "delete that folder to redo them.")
    write_json(record, {"run": run, "model": source.model, "seed": noise.seed, "scale": source.scale,
                        "noise_sigma": noise.noise_sigma, "noise_model": noise.noise_model,
                        "lr_size": source.lr_size})


@functools.lru_cache(maxsize=16)
def degradation_id(model):
    """A short id of the degradation `model` names: `builtin:bicubic`, or the SHA-256 of its file(s)."""
    from dml_keras.models import BUILTIN_BASELINES
    from dml_keras.presets import PRESETS, preset_file

    if model in BUILTIN_BASELINES:
        return f"builtin:{model}"
    path = Path(preset_file(model) if model in PRESETS else model)
    digest = hashlib.sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for file in files:
        digest.update(str(file.relative_to(path) if path.is_dir() else file.name).encode())
        digest.update(file.read_bytes())
    return f"sha256:{digest.hexdigest()[:16]}"


def completed_shard(spec, index, count):
    """The sidecar of shard `index` of `count` in the spec's `out_dir` if the shard is complete (sidecar present, file of
    the recorded size), else `None`."""
    path = spec.shard_path(index, count)
    note = records.read_sidecar(path)
    return note if note is not None and os.path.exists(path) and note["bytes"] == os.path.getsize(path) else None


def write_pair_shard(spec, model, index, count, photos):
    """Synthesize shard `index` of `count` of `spec` from its `photos` (`spec.shard_photos(index, ...)`) with `model`,
    write it and its sidecar; returns the sidecar. A complete shard is left as it is (its sidecar is returned).
    """
    from dml_keras.data.synthesis import synthesize_photo

    done = completed_shard(spec, index, count)
    if done is not None:
        return done
    path = spec.shard_path(index, count)
    degradation = degradation_id(spec.source.model)
    names, payloads, sizes = [], [], []
    for photo in photos:
        hr, lr, key = synthesize_photo(model, photo, noise_for(spec, model), spec.noise.seed, spec.output.tile_size,
                                       spec.noise.noise_resolution)
        name = Path(photo).stem + ".png"
        names.append(name)
        sizes.append([list(hr.shape[:2]), list(lr.shape[:2])])
        payloads.append(records.encode_example({
            "hr": encode_png(hr), "lr": encode_png(lr, 8 if spec.output.quantize else 16), "name": name,
            "seed": int(key), "scale": int(model.scale), "degradation": degradation,
        }))
    offsets, digest = records.write_shard(path, payloads)
    note = {"file": os.path.basename(path), "index": index, "run": run_id(spec), "examples": len(names),
            "sha256": digest, "bytes": os.path.getsize(path), "names": names, "offsets": offsets, "sizes": sizes}
    write_json(records.sidecar(path), note)
    return note


def write_manifest(spec, model, count, photos):
    """Write `manifest.json`: the settings, the degradation, and every complete shard (from the sidecars)."""
    shards = []
    for index in range(count):
        note = completed_shard(spec, index, count)
        if note is not None:
            shards.append({key: note[key] for key in ("file", "examples", "sha256", "bytes")})
    settings = spec.flat()
    noise_sigma = noise_for(spec, model)
    settings["noise_sigma"] = list(noise_sigma) if isinstance(noise_sigma, (tuple, list)) else noise_sigma
    manifest = {
        "format": records.FORMAT,
        "run": run_id(spec),
        "complete": len(shards) == count,
        "photos": len(photos),
        "examples": sum(shard["examples"] for shard in shards),
        "shard_count": count,
        "degradation": {"id": degradation_id(spec.source.model), "model": spec.source.model,
                        "scale": spec.source.scale, "lr_size": spec.source.lr_size,
                        "noise_model": spec.noise.noise_model, "class": type(model).__name__},
        "settings": settings,
        "features": {"hr": "PNG bytes, 8-bit RGB", "lr": f"PNG bytes, {8 if spec.output.quantize else 16}-bit RGB",
                     "name": "file name", "seed": "int64 noise key", "scale": "int64",
                     "degradation": "degradation id"},
        "shards": shards,
    }
    write_json(os.path.join(spec.output.out_dir, records.MANIFEST), manifest)
    return manifest


def synthesize_shards(spec, shard=(0, 1), progress=True, model=None):
    """Write the TFRecord shards of `spec` (this process's part: shards `k` with `k % N == I` for `shard=(I, N)`),
    skipping complete ones, then `manifest.json`. Returns the manifest.

    Example:
    >>> from dml_keras.specs import SynthesisRun
    >>> spec = SynthesisRun.of(model="bicubic", hr_dir="photos/", out_dir="pairs/", examples_per_shard=128)
    >>> synthesize_shards(spec.resolved())["examples"]  # doctest: +SKIP
    1000
    """
    check_out_dir(spec)
    model = model or load_degradation(spec)
    photos = photos_of(spec)
    count = spec.shard_count(photos)
    mine = [k for k in range(count) if k % shard[1] == shard[0]]
    for index in tqdm(mine, desc="shards", unit="shard", disable=not progress):
        write_pair_shard(spec, model, index, count, spec.shard_photos(index, photos))
    return write_manifest(spec, model, count, photos)


# The same shards written by an Apache Beam pipeline (`dml synthesize --runner`, `python -m dml_keras.beam`):
# each incomplete shard goes to a worker, which loads the degradation once (`DoFn.setup`) and writes the shard
# with `write_pair_shard`, so the files are byte-identical to the single-process command's; a rerun skips
# complete shards. The photos, the model file and --out must be paths every worker can read and write.

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
            self.model = load_degradation(spec)

        def process(self, element):
            index, photos = element
            note = write_pair_shard(spec, self.model, index, count, photos)
            yield {key: note[key] for key in ("file", "examples", "bytes")}

    return WriteShards()


def run_pipeline(spec, runner="direct", beam_args=()):
    """Write the TFRecord shards of `spec` (a resolved `specs.SynthesisRun`) with a Beam pipeline on `runner`
    (`direct`, `dataflow`, `flink`, `spark` or any Beam runner name) and return the manifest.

    `beam_args`: further Beam pipeline options, e.g. `["--direct_num_workers", "2"]`.
    """
    beam = _beam()
    from apache_beam.options.pipeline_options import PipelineOptions

    check_out_dir(spec)
    photos = photos_of(spec)
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
    return write_manifest(spec, load_degradation(spec), count, photos)
