"""On-the-fly synthetic pairs without TensorFlow: the `PyDataset`s yield the `tf.data` pipelines' batches."""

import numpy as np
import pytest

from tests.conftest import make_hr_lr, needs_tensorflow


def _photos_folder(root, photos):
    from dml_keras.data.io import write_image

    for name, photo in photos.items():
        write_image(root / f"{name}.png", photo[:160, :200])
    return root


@needs_tensorflow
@pytest.mark.parametrize("model_name, options", [
    ("dml_realsr_x4", dict(channels="y", crops_per_image=2)),  # a learned model, two crops a photo
    ("bicubic", dict(channels="rgb", crops_per_image=1, noise_sigma=(0.0, 10.0))),
    ("handcrafted", dict(channels="rgb", crops_per_image=3, noise_sigma=0.0)),  # random, seeded per crop
])
def test_synthetic_batches_are_the_tf_data_pipelines(tmp_path, photos, model_name, options):
    from dml_keras.data.sr_pipeline import synthetic_sr_dataset
    from dml_keras.data.synthetic_batches import synthetic_batches
    from dml_keras.loading import load_model

    folder = _photos_folder(tmp_path, photos)
    model = load_model(model_name, kind="degradation")
    args = dict(patch_size=32, batch_size=3, seed=5, **options)
    stream = list(synthetic_sr_dataset(model, folder, **args).take(4))  # 12 crops of 4 photos: passes cross
    batches = synthetic_batches(model, folder, **args)
    for number, (lr, hr) in enumerate(stream):
        np.testing.assert_array_equal(batches[number][1], hr.numpy())
        # measured: equal bit for bit here; float rounding of the noise may move a value by one 8-bit level
        np.testing.assert_allclose(batches[number][0], lr.numpy(), rtol=0, atol=1 / 255 + 1e-6)
        assert np.mean(batches[number][0] != lr.numpy()) < 1e-3
    resumed = synthetic_batches(model, folder, **args, start=2)
    np.testing.assert_array_equal(resumed[1][1], stream[3][1].numpy())


@needs_tensorflow
def test_mixed_batches_are_the_tf_data_mix(tmp_path, photos):
    from dml_keras.data.crops import paired_batches
    from dml_keras.data.pairs import discover_pairs
    from dml_keras.data.sr_pipeline import mixed_sr_dataset, real_sr_dataset, synthetic_sr_dataset
    from dml_keras.data.synthetic_batches import MixedBatches, synthetic_batches
    from dml_keras.loading import load_model

    folder = _photos_folder(tmp_path / "clean", photos)
    make_hr_lr(tmp_path / "pairs", photos, native=False)
    pairs = discover_pairs(tmp_path / "pairs")
    model = load_model("dml_realsr_x4", kind="degradation")
    real = real_sr_dataset(pairs, 4, 32, 3, "same", "y", 5, batch=False)
    synthetic = synthetic_sr_dataset(model, folder, 32, 3, "y", 5.0, seed=5, batch=False)
    stream = list(mixed_sr_dataset(real, synthetic, 0.5, 3, 5).take(5))

    def mixed(start=0):
        return MixedBatches(paired_batches(pairs, 4, 32, 3, "same", "y", 5, cache=True, order="lr"),
                            synthetic_batches(model, folder, 32, 3, "y", 5.0, seed=5), 0.5, 3, 5, start=start)

    batches = mixed()
    for number, (lr, hr) in enumerate(stream):
        np.testing.assert_array_equal(batches[number][1], hr.numpy())
        np.testing.assert_allclose(batches[number][0], lr.numpy(), rtol=0, atol=1 / 255 + 1e-6)
    np.testing.assert_array_equal(mixed(start=3)[1][1], stream[4][1].numpy())


@needs_tensorflow
@pytest.mark.parametrize("lr_size", ["same", "native"])
def test_in_step_synthesis_makes_the_pipelines_pairs(tmp_path, photos, lr_size):
    from dml_keras.data.sr_pipeline import synthetic_sr_dataset
    from dml_keras.data.synthetic_batches import synthetic_batches
    from dml_keras.loading import load_model
    from dml_keras.models import VDSR
    from dml_keras.trainers.in_step import InStepSynthesis

    folder = _photos_folder(tmp_path, photos)
    model = load_model("dml_realsr_x4", kind="degradation", lr_size=lr_size)  # native: taken to capture size
    args = dict(patch_size=32, batch_size=3, channels="y", noise_sigma=5.0, seed=2, crops_per_image=2)
    stream = list(synthetic_sr_dataset(model, folder, **args).take(3))
    clean = synthetic_batches(model, folder, **args, in_step=True)
    wrapper = InStepSynthesis(VDSR(depth=2, filters=4, lr_size=lr_size), model, clean.margin, 32)
    for number, (lr, hr) in enumerate(stream):
        inputs, target = clean[number]
        np.testing.assert_array_equal(target, hr.numpy())
        made = np.asarray(wrapper.synthesize(*inputs))
        assert made.shape == lr.shape
        # float rounding (the shrink in float32 here, float64 there) may move a value by one 8-bit level;
        # measured: equal at these sizes
        np.testing.assert_allclose(made, lr.numpy(), rtol=0, atol=1 / 255 + 1e-5)
        assert np.mean(np.abs(made - lr.numpy()) > 1e-5) < 0.01


@pytest.mark.parametrize("flags", [["--synthesis", "in-step"], ["--synthesis", "in-step", "--degradation", "bicubic"]])
def test_in_step_synthesis_is_refused_in_one_line_where_it_cannot_run(tmp_path, photos, capsys, flags):
    # with real pairs it has nothing to synthesize; a NumPy degradation cannot run in the step
    from dml_keras.cli import main

    make_hr_lr(tmp_path / "pairs", photos)
    source = ["--hr-dir", str(tmp_path / "pairs" / "hr")] if "--degradation" in flags else [str(tmp_path / "pairs")]
    assert main(["train-sr", *source, "--out", str(tmp_path / "run"), "--steps", "1", *flags]) == 2
    assert capsys.readouterr().err.strip().count("\n") == 0
    assert not (tmp_path / "run" / "model.keras").exists()
