"""Shared fixtures: real photos (scikit-image's bundled ones) and the shared real-pair data."""

import os
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

# the script that writes the .pth fixtures needs PyTorch, no dependency of the package: not a module to collect
# (--doctest-modules would import it)
collect_ignore = ["data/make_pth_fixtures.py"]

# Under pytest-xdist every worker would start a thread per core (`-n 2` on two cores: four busy threads).
# Give each worker, and the processes it starts, its share: two SR trainings side by side took 332 test-seconds
# with two threads each and 251 with one (same machine, back to back); the whole suite measured the same.
_workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
if _workers > 1:
    _threads = str(max(1, (os.cpu_count() or 1) // _workers))
    for _name in ("TF_NUM_INTRAOP_THREADS", "OMP_NUM_THREADS"):
        os.environ.setdefault(_name, _threads)
    os.environ.setdefault("TF_NUM_INTEROP_THREADS", "1")

# `DML_TEST_WITHOUT_TENSORFLOW=1` (with KERAS_BACKEND=jax) runs the tests as on a
# machine that has Keras and JAX but no TensorFlow: importing it fails, and the
# tests that need it (tf.data, tf.distribute, export, comparisons with tf.image)
# are skipped. tests/test_backends.py runs ops/layers/models this way.
WITHOUT_TENSORFLOW = os.environ.get("DML_TEST_WITHOUT_TENSORFLOW") == "1"
if WITHOUT_TENSORFLOW:
    import sys

    sys.modules["tensorflow"] = None

needs_tensorflow = pytest.mark.skipif(WITHOUT_TENSORFLOW, reason="needs TensorFlow (running as on a machine without it)")

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def shared_data(*parts):
    """Path under ../shared/data, or skip the test with the reason when it is absent."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"real data '{path}' is absent (../shared/data is not beside this checkout)")
    return path


@pytest.fixture(scope="session")
def photos():
    """Real photographs bundled with scikit-image, float32 RGB in [0, 1]."""
    import skimage.data

    names = ("astronaut", "chelsea", "coffee", "rocket")
    return {name: getattr(skimage.data, name)().astype(np.float32) / 255.0 for name in names}


@pytest.fixture(scope="module")
def clean(tmp_path_factory):
    """Four real clean photos: set14's four smallest (248–352 px) from ../shared/data/clean_hr, or, where
    ../shared is absent, crops of that size from scikit-image's photographs under the same names."""
    import shutil

    folder = tmp_path_factory.mktemp("clean")
    source = SHARED_DATA / "clean_hr" / "set14"
    if source.is_dir():
        for name in CLEAN_NAMES:
            shutil.copy(source / name, folder / name)
        return folder
    import skimage.data

    from dml_keras.data.io import write_image

    for name, photo, (height, width) in zip(CLEAN_NAMES, ("astronaut", "chelsea", "coffee", "rocket"),
                                             ((288, 352), (360, 248), (276, 276), (288, 352))):
        write_image(folder / name, getattr(skimage.data, photo)()[:height, :width] / 255.0)
    return folder


CLEAN_NAMES = ("img_004.png", "img_005.png", "img_006.png", "img_008.png")


# Helpers the test modules share (import them from here, never from another test module).


def shard_examples(out):
    """`{name: decoded example}` of every record in the TFRecord shards of `out`."""
    from dml_keras.data import records

    found = {}
    for shard in records.shard_files(out):
        for offset in records.record_offsets(shard):
            example = records.decode_example(records.read_record(shard, offset))
            found[example["name"].decode()] = example
    return found


def hr_lr(photo, size=64, scale=4, native=True):
    """A `size`² crop of `photo` and its MATLAB-bicubic LR (small, or enlarged back with `native=False`)."""
    from dml_keras.ops.resize import imresize

    hr = photo[:size, :size]
    small = np.clip(imresize(hr, scale=1 / scale), 0, 1)
    return hr, (small if native else np.clip(imresize(small, scale=scale), 0, 1))


def make_realsr(root, photos, scale=4):
    """A RealSR v3 folder (Canon/Train|Test/SCALE, *_HR.png / *_LRn.png) of bicubic pairs."""
    from dml_keras.data.io import write_image

    for split in ("Train", "Test"):
        folder = root / "Canon" / split / str(scale)
        for index, photo in enumerate(list(photos.values())[:2], start=1):
            hr, lr = hr_lr(photo, scale=scale, native=False)
            write_image(folder / f"Canon_{index:03d}_HR.png", hr)
            write_image(folder / f"Canon_{index:03d}_LR{scale}.png", lr)


def make_hr_lr(root, photos, native=True):
    """`root/hr` and `root/lr` folders of bicubic pairs, one per photo."""
    from dml_keras.data.io import write_image

    for name, photo in photos.items():
        hr, lr = hr_lr(photo, native=native)
        write_image(root / "hr" / f"{name}.png", hr)
        write_image(root / "lr" / f"{name}.png", lr)


def orientation_of(crop, image):
    """`(turns, flip)` such that `crop` is `np.rot90(window, turns)` of a window of `image` (2-D), flipped left-right
    first when `flip`; `None` unless exactly one orientation matches (a photo of noise has one)."""
    size = crop.shape[0]
    windows = np.lib.stride_tricks.sliding_window_view(image, (size, size))
    matches = []
    for turns in range(4):
        for flip in (False, True):
            undone = np.rot90(crop, -turns)
            undone = undone[:, ::-1] if flip else undone
            if np.any(np.all(windows == undone, axis=(-2, -1))):
                matches.append((turns, flip))
    return matches[0] if len(matches) == 1 else None


# the orientations each `augment` setting draws; "flips": left-right and up-down (= a half turn of the left-right flip)
ORIENTATIONS = {"dihedral": {(t, f) for t in range(4) for f in (False, True)},
                "flips": {(0, False), (0, True), (2, False), (2, True)}, "none": {(0, False)}}


def interrupt_at_epoch(epoch):
    """A Keras callback that raises `KeyboardInterrupt` when `epoch` begins (a run stopped by the user)."""
    import keras

    class InterruptAtEpoch(keras.callbacks.Callback):
        def on_epoch_begin(self, current, logs=None):
            if current == epoch:
                raise KeyboardInterrupt

    return InterruptAtEpoch()


def assert_round_trip(obj, inputs, tmp_path, atol=1e-6):
    """A layer or model: its config survives JSON and `from_config` unchanged, with the same weights, and the
    config round trip and `.keras` reload give the outputs of the original.

    Layers are saved inside a functional model. Returns `(expected outputs, reloaded object)`.
    """
    import keras

    def numpy(x):
        return keras.ops.convert_to_numpy(x)

    import json

    expected = numpy(obj(inputs))
    config = obj.get_config()
    assert json.loads(json.dumps(config)) == config  # JSON-safe as it is (keras-hub's check): no tuples or NumPy
    clone = obj.__class__.from_config(config)
    clone(inputs)
    assert clone.get_config() == config
    assert [tuple(w.shape) for w in clone.weights] == [tuple(w.shape) for w in obj.weights]
    clone.set_weights(obj.get_weights())
    np.testing.assert_allclose(numpy(clone(inputs)), expected, atol=atol)
    saved = obj
    if not isinstance(obj, keras.Model):
        single = not isinstance(inputs, list)
        symbolic = [keras.Input(x.shape[1:]) for x in ([inputs] if single else inputs)]
        saved = keras.Model(symbolic[0] if single else symbolic, obj(symbolic[0] if single else symbolic))
    saved.save(tmp_path / "round_trip.keras")
    reloaded = keras.models.load_model(tmp_path / "round_trip.keras")
    np.testing.assert_allclose(numpy(reloaded(inputs)), expected, atol=atol)
    return expected, reloaded


def run_settings(run):
    """The flat settings of the run in folder `run` (its `spec.json`, by the names of `train_sr`'s keywords)."""
    from dml_keras.specs import read_spec

    return read_spec(run).flat()


def run_info(run):
    """What ran the run in folder `run`: its `run_info.json` (the record, and `starts`)."""
    import json

    return json.loads((Path(run) / "run_info.json").read_text())
