"""Real-ESRGAN's recipe: RRDBNet, the U-Net discriminator, VGG features, the unsharp mask and the GAN trainer."""

import json

import cv2
import keras
import numpy as np
import pytest

from dml_keras.losses import IMAGENET_MEAN, IMAGENET_STD, VGG16_LAYERS, VGGFeatures, gan_loss
from dml_keras.metrics.lpips import load_weights
from dml_keras.models import RRDBNet, UNetDiscriminator
from dml_keras.ops.filtering import unsharp_mask
from dml_keras.ops.pixel_shuffle import upsample_bilinear2x
from dml_keras.trainers.perceptual import PerceptualTrainer
from tests.conftest import assert_round_trip, interrupt_at_epoch, make_hr_lr, needs_tensorflow, run_settings


def _conv(cin, cout, size, bias=True):
    return cin * cout * size * size + (cout if bias else 0)


def test_rrdb_at_full_size_is_real_esrgans_generator():
    # 23 RRDB of 3 dense blocks (five 3x3 convs: 64 + i*32 in, 32 out, the last 64 out), conv_first, conv_body,
    # two x2 steps with a conv each, conv_hr, conv_last to RGB
    f, g = 64, 32
    dense_block = sum(_conv(f + i * g, g if i < 4 else f, 3) for i in range(5))
    expected = _conv(3, f, 3) + 23 * 3 * dense_block + 4 * _conv(f, f, 3) + _conv(f, 3, 3)
    model = RRDBNet()
    model(np.zeros((1, 6, 6, 3), "float32"))
    assert model.count_params() == expected == 16_697_987


@pytest.mark.parametrize("scale", [2, 3, 4, 8])
@pytest.mark.parametrize("channels", ["rgb", "y"])
def test_rrdb_any_size_builds_at_native_size(scale, channels):
    model = RRDBNet(num_blocks=1, filters=8, growth=4, scale=scale, channels=channels)
    c = 3 if channels == "rgb" else 1
    assert tuple(model(np.zeros((2, 5, 7, c), "float32")).shape) == (2, 5 * scale, 7 * scale, c)


def test_rrdb_refuses_same_size_input():
    with pytest.raises(ValueError, match="native"):
        RRDBNet(num_blocks=1, filters=8, growth=4, lr_size="same")


def test_rrdb_reload_gives_same_outputs(tmp_path):
    model = RRDBNet(num_blocks=2, filters=8, growth=4, scale=2)
    x = np.random.default_rng(0).random((1, 9, 11, 3)).astype("float32")
    assert_round_trip(model, x, tmp_path)


def test_unet_discriminator_at_full_size_is_real_esrgans():
    # biases only on the first and last convs; spectral norm's u vectors are not trained
    f = 64
    expected = (_conv(3, f, 3) + _conv(f, 2 * f, 4, False) + _conv(2 * f, 4 * f, 4, False) + _conv(4 * f, 8 * f, 4, False)
                + _conv(8 * f, 4 * f, 3, False) + _conv(4 * f, 2 * f, 3, False) + _conv(2 * f, f, 3, False)
                + 2 * _conv(f, f, 3, False) + _conv(f, 1, 3))
    model = UNetDiscriminator()
    model(np.zeros((1, 32, 32, 3), "float32"))
    assert sum(int(np.prod(v.shape)) for v in model.trainable_weights) == expected == 4_376_897
    normalized = [layer.name for layer in model._flatten_layers() if isinstance(layer, keras.layers.SpectralNormalization)]
    assert len(normalized) == 8


def test_unet_discriminator_scores_every_pixel_at_any_size(tmp_path):
    model = UNetDiscriminator(filters=8)
    x = np.random.default_rng(0).random((2, 24, 40, 3)).astype("float32")
    assert tuple(model(x).shape) == (2, 24, 40, 1)
    assert_round_trip(model, x, tmp_path)


def test_bilinear_doubling_is_half_pixel_bilinear():
    # the closed form at x2: 3/4 of the nearest input pixel, 1/4 of its neighbour on that side, the edge repeated
    x = np.random.default_rng(0).random((1, 5, 4, 2)).astype(np.float64)
    padded = np.pad(x, ((0, 0), (1, 1), (0, 0), (0, 0)), mode="edge")
    rows = np.empty((1, 10, 4, 2))
    rows[:, 0::2] = 0.75 * x + 0.25 * padded[:, :-2]
    rows[:, 1::2] = 0.75 * x + 0.25 * padded[:, 2:]
    padded = np.pad(rows, ((0, 0), (0, 0), (1, 1), (0, 0)), mode="edge")
    expected = np.empty((1, 10, 8, 2))
    expected[:, :, 0::2] = 0.75 * rows + 0.25 * padded[:, :, :-2]
    expected[:, :, 1::2] = 0.75 * rows + 0.25 * padded[:, :, 2:]
    ours = keras.ops.convert_to_numpy(upsample_bilinear2x(x.astype("float32")))
    np.testing.assert_allclose(ours, expected, atol=1e-6)


def _vgg16_reference(image, layers):
    """VGG16 pre-ReLU features in float64 NumPy, from the same weight file: an independent implementation."""
    weights = load_weights("vgg")["VGG16_0"]
    x = (image.astype(np.float64) - np.array(IMAGENET_MEAN)) / np.array(IMAGENET_STD)
    features, conv = {}, 0
    for name in VGG16_LAYERS:
        if name == "M":
            h, w, c = x.shape
            x = x.reshape(h // 2, 2, w // 2, 2, c).max(axis=(1, 3))
            continue
        kernel = weights[f"Conv_{conv}"]["kernel"].astype(np.float64)
        bias = weights[f"Conv_{conv}"]["bias"].astype(np.float64)
        windows = np.lib.stride_tricks.sliding_window_view(np.pad(x, ((1, 1), (1, 1), (0, 0))), (3, 3), axis=(0, 1))
        y = np.einsum("hwcij,ijco->hwo", windows, kernel) + bias
        features[name] = y
        x = np.maximum(y, 0.0)
        conv += 1
    return [features[name] for name in layers]


def test_vgg16_features_equal_an_independent_reference(photos):
    layers = ("conv1_2", "conv2_2", "conv3_3", "conv4_3", "conv5_3")
    image = photos["astronaut"][100:132, 180:212]
    ours = VGGFeatures(layers)(image[None])
    for name, mine, reference in zip(layers, ours, _vgg16_reference(image, layers)):
        mine = keras.ops.convert_to_numpy(mine)[0]
        assert mine.shape == reference.shape, name
        # 1e-5 of the layer's range: the deepest features reach hundreds, float32 carries 7 digits
        np.testing.assert_allclose(mine, reference, rtol=0, atol=1e-5 * np.abs(reference).max(), err_msg=name)


def test_unsharp_mask_equals_its_closed_form(photos):
    image = photos["coffee"][150:214, 200:264]  # real edges and flat regions
    taps = cv2.getGaussianKernel(51, 0)
    kernel = taps @ taps.T

    def blur(x):
        return cv2.filter2D(x, -1, kernel, borderType=cv2.BORDER_REFLECT_101)

    residual = image - blur(image)
    mask = blur((np.abs(residual) * 255 > 10).astype(np.float32))
    expected = mask * np.clip(image + 0.5 * residual, 0, 1) + (1 - mask) * image
    ours = keras.ops.convert_to_numpy(unsharp_mask(image[None]))[0]
    np.testing.assert_allclose(ours, expected, atol=2e-6)
    assert np.abs(ours - image).max() > 0.02  # it did sharpen
    flat = np.full((1, 40, 40, 3), 0.3, "float32")
    np.testing.assert_allclose(keras.ops.convert_to_numpy(unsharp_mask(flat)), flat, atol=1e-7)


def test_gan_loss_is_binary_cross_entropy_with_logits():
    logits = np.array([[-2.0, 0.0, 3.0]], "float32")
    expected_real = np.mean(np.log1p(np.exp(-logits)))
    expected_fake = np.mean(np.log1p(np.exp(logits)))
    assert float(gan_loss(logits, real=True)) == pytest.approx(expected_real, rel=1e-6)
    assert float(gan_loss(logits, real=False)) == pytest.approx(expected_fake, rel=1e-6)


def _trainer(photos, decay=0.9, rate=1e-3, blocks=1, **kwargs):
    """A small GAN trainer (RRDB `blocks` × 8, U-Net 8) on two 32² crops; `kwargs` go to `PerceptualTrainer`."""
    from dml_keras.ops.resize import imresize

    keras.utils.set_random_seed(0)  # the same initial networks whatever ran before in this process

    hr = np.stack([photos[n][:32, :32] for n in ("astronaut", "coffee")]).astype("float32")
    lr = np.stack([np.clip(imresize(h, scale=0.25), 0, 1) for h in hr]).astype("float32")
    generator = RRDBNet(num_blocks=blocks, filters=8, growth=4)
    generator(lr)
    discriminator = UNetDiscriminator(filters=8)
    discriminator(hr, training=True)
    trainer = PerceptualTrainer(generator, discriminator, lr, perceptual_weight=1.0, gan_weight=0.1, ema_decay=decay,
                                **kwargs)
    trainer.compile(keras.optimizers.Adam(rate), keras.optimizers.Adam(rate))
    return trainer, lr, hr


def test_one_gan_step_changes_both_networks_and_moves_the_average(photos):
    trainer, lr, hr = _trainer(photos)
    generator0 = trainer.generator.get_weights()
    discriminator0 = [keras.ops.convert_to_numpy(v) for v in trainer.discriminator.trainable_variables]
    average0 = trainer.ema_generator.get_weights()
    logs = trainer.train_on_batch(lr, hr, return_dict=True)
    assert {"l_pix", "l_percep", "l_g_gan", "l_d_real", "l_d_fake"} <= set(logs)
    generator1 = trainer.generator.get_weights()
    discriminator1 = [keras.ops.convert_to_numpy(v) for v in trainer.discriminator.trainable_variables]
    assert all(not np.array_equal(a, b) for a, b in zip(generator0, generator1))
    assert all(not np.array_equal(a, b) for a, b in zip(discriminator0, discriminator1))
    for before, after, new in zip(average0, trainer.ema_generator.get_weights(), generator1):
        np.testing.assert_allclose(after, 0.9 * before + 0.1 * new, atol=1e-6)


@needs_tensorflow
def test_discriminator_learns_real_from_dark_blurred_in_a_few_steps(photos):
    # A fresh U-Net discriminator scores a photo and its blur almost alike: a blur keeps the local mean, and the
    # freshly initialized network is nearly a function of it (logits equal within 0.1-0.6 %), so the gradient that
    # separates them is second order. Telling sharp crops from crops blurred with sigma 6 then takes 20 to over 150
    # steps depending on the seed and the threads' float order, with or without spectral normalization alike
    # (measured, 4 seeds). Darkened to 0.2 as well, the fakes are separable at first order: every seed tried
    # (0-3) fell below 1.1 by step 20 and below 0.2 by step 60, so this asserts the step learns, decisively.
    trainer, _, _ = _trainer(photos, rate=1e-3)
    rng = np.random.default_rng(0)
    crops = []
    for _ in range(8):
        photo = photos[rng.choice(list(photos))]
        top, left = rng.integers(0, 200, 2)
        crops.append(photo[top : top + 32, left : left + 32])
    real = np.stack(crops).astype("float32")
    fake = 0.2 * np.stack([cv2.GaussianBlur(c, (0, 0), 6.0) for c in crops]).astype("float32")
    losses = []
    for _ in range(60):
        values = trainer.discriminator_step(real, fake)
        losses.append(float(values["l_d_real"] + values["l_d_fake"]))
    assert np.mean(losses[-5:]) < 0.5 * 2 * np.log(2)  # from about chance (1.39) to below 0.69


class _Networks(keras.callbacks.Callback):
    def on_train_end(self, logs=None):
        self.raw = self.model.generator.get_weights()
        self.average = self.model.ema_generator.get_weights()


def _train_gan(pairs, out, **kwargs):
    from dml_keras.workflows.sr import train_sr

    return train_sr(out, pairs=pairs, arch="rrdb", num_blocks=1, filters=8, growth=4, loss="gan", d_filters=8,
                    patch_size=32, batch_size=2, steps=4, steps_per_epoch=2, ema_decay=0.5, seed=0, verbose=0,
                    **kwargs)


def test_the_average_is_what_is_saved(tmp_path, photos):
    make_hr_lr(tmp_path / "pairs", photos)
    networks = _Networks()
    _train_gan(tmp_path / "pairs", tmp_path / "run", callbacks=[networks])
    saved = keras.models.load_model(tmp_path / "run" / "model.keras")
    assert isinstance(saved, RRDBNet)
    for average, raw, kept in zip(networks.average, networks.raw, saved.get_weights()):
        np.testing.assert_array_equal(kept, average)
    assert any(not np.array_equal(a, r) for a, r in zip(networks.average, networks.raw))
    settings = run_settings(tmp_path / "run")
    assert (settings["loss"], settings["d_filters"], settings["ema_decay"], settings["channels"]) == ("gan", 8, 0.5, "rgb")


def test_a_stopped_gan_run_resumes_bit_identically(tmp_path, photos):
    make_hr_lr(tmp_path / "pairs", photos)
    straight = _train_gan(tmp_path / "pairs", tmp_path / "straight")
    with pytest.raises(KeyboardInterrupt):
        _train_gan(tmp_path / "pairs", tmp_path / "resumed", callbacks=[interrupt_at_epoch(1)])
    resumed = _train_gan(tmp_path / "pairs", tmp_path / "resumed")
    for a, b in zip(straight.get_weights(), resumed.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_gan_stage_starts_from_the_l1_stage(tmp_path, photos):
    from dml_keras.workflows.sr import train_sr

    make_hr_lr(tmp_path / "pairs", photos)
    first = train_sr(tmp_path / "l1", pairs=tmp_path / "pairs", arch="rrdb", num_blocks=1, filters=8, growth=4,
                     patch_size=32, batch_size=2, steps=2, steps_per_epoch=2, verbose=0)
    # no steps of the GAN stage's own: its network is the L1 stage's, not a fresh one
    networks = _Networks()
    train_sr(tmp_path / "gan", pairs=tmp_path / "pairs", arch="rrdb", num_blocks=1, filters=8, growth=4, loss="gan",
             d_filters=8, init=tmp_path / "l1", patch_size=32, batch_size=2, steps=1, steps_per_epoch=1,
             learning_rate=1e-12, verbose=0, callbacks=[networks])
    for a, b in zip(first.get_weights(), networks.raw):
        np.testing.assert_allclose(a, b, atol=1e-7)


@pytest.mark.parametrize("flags, message", [
    (["--loss", "gan", "--channels", "y"], "--channels rgb"),
    (["--arch", "rrdb", "--lr-size", "same"], "--lr-size native"),
    (["--arch", "rrdb", "--depth", "4"], "rrdb does not take depth"),
])
def test_cli_refuses_what_the_recipe_cannot_train(tmp_path, photos, capsys, flags, message):
    from dml_keras.cli import main

    make_hr_lr(tmp_path / "pairs", photos)
    assert main(["train-sr", str(tmp_path / "pairs"), "--out", str(tmp_path / "run"), "--steps", "1", *flags]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "run" / "model.keras").exists()


def test_cli_refuses_a_start_of_another_size(tmp_path, photos, capsys):
    from dml_keras.cli import main

    make_hr_lr(tmp_path / "pairs", photos)
    common = ["train-sr", str(tmp_path / "pairs"), "--arch", "rrdb", "--blocks", "1", "--growth", "4",
              "--patch-size", "32", "--batch-size", "2", "--steps", "1", "--steps-per-epoch", "1", "--quiet"]
    assert main(common + ["--filters", "8", "--out", str(tmp_path / "l1")]) == 0
    assert main(common + ["--filters", "16", "--init", str(tmp_path / "l1"), "--out", str(tmp_path / "gan")]) == 2
    assert "--init" in capsys.readouterr().err


def _tiny_vdsr(photos, tmp_path):
    from dml_keras.models import VDSR

    model = VDSR(depth=3, filters=8, scale=4, channels="rgb", lr_size="native")
    model(np.zeros((1, 8, 8, 3), "float32"))
    rng = np.random.default_rng(0)
    model.set_weights([rng.normal(0, 0.05, w.shape).astype("float32") for w in model.get_weights()])
    model.save(tmp_path / "vdsr.keras")
    return model


def test_compare_puts_the_same_crop_of_every_image_side_by_side(tmp_path, photos):
    from dml_keras.data.io import read_image
    from dml_keras.workflows.sr import compare_models

    make_hr_lr(tmp_path / "pairs", photos)
    model = _tiny_vdsr(photos, tmp_path)
    written = compare_models([tmp_path / "vdsr.keras"], tmp_path / "figures", pairs=tmp_path / "pairs", crop=32,
                             labelled=False, progress=False)
    assert len(written) == len(photos)
    figure = read_image(tmp_path / "figures" / "coffee.png")
    hr, lr = read_image(tmp_path / "pairs" / "hr" / "coffee.png"), read_image(tmp_path / "pairs" / "lr" / "coffee.png")
    assert figure.shape == (32, 3 * 32 + 2 * 4, 3)  # LR | model | HR, 4 px apart
    panels = [figure[:, i * 36 : i * 36 + 32] for i in range(3)]
    # the crop is where HR has most detail; every panel shows that same place (the LR's pixels repeated)
    matches = [(t, l) for t in range(0, 33, 4) for l in range(0, 33, 4) if np.abs(hr[t : t + 32, l : l + 32] - panels[2]).max() < 1e-6]
    assert len(matches) == 1
    top, left = matches[0]
    np.testing.assert_allclose(panels[0], np.repeat(np.repeat(lr[top // 4 : top // 4 + 8, left // 4 : left // 4 + 8], 4, 0), 4, 1), atol=1e-6)
    restored = model.super_resolve(lr)[top : top + 32, left : left + 32]
    np.testing.assert_allclose(panels[1], restored, atol=0.5 / 255 + 1e-6)  # 8-bit PNG


def test_another_upscalers_outputs_score_like_the_model_that_made_them(tmp_path, photos):
    from dml_keras.workflows.sr import evaluate_sr, upscale_files

    make_hr_lr(tmp_path / "pairs", photos)
    model = _tiny_vdsr(photos, tmp_path)
    upscale_files(model, [tmp_path / "pairs" / "lr"], tmp_path / "outputs", progress=False)
    direct = evaluate_sr(model, tmp_path / "pairs", lpips_net="none", progress=False)
    stored = evaluate_sr(tmp_path / "outputs", tmp_path / "pairs", scale=4, lpips_net="none", progress=False)
    assert stored["count"] == direct["count"] == len(photos)
    assert stored["psnr"] == pytest.approx(direct["psnr"], abs=0.05)  # the PNGs are rounded to 8 bits
    by_name = {row["name"]: row["psnr"] for row in direct["per_image"]}
    for row in stored["per_image"]:  # each output was matched to its own pair
        assert row["psnr"] == pytest.approx(by_name[row["name"]], abs=0.1)
    assert max(by_name.values()) - min(by_name.values()) > 1


def test_an_outputs_folder_missing_a_photo_is_named(tmp_path, photos):
    from dml_keras.errors import DataError
    from dml_keras.workflows.sr import evaluate_sr, upscale_files

    make_hr_lr(tmp_path / "pairs", photos)
    upscale_files(_tiny_vdsr(photos, tmp_path), [tmp_path / "pairs" / "lr"], tmp_path / "outputs", progress=False)
    (tmp_path / "outputs" / "rocket.png").unlink()
    with pytest.raises(DataError, match="no output for 'rocket'"):
        evaluate_sr(tmp_path / "outputs", tmp_path / "pairs", scale=4, lpips_net="none", progress=False)


@pytest.mark.slow
def test_cli_l1_then_gan_stage_lowers_lpips_on_real_pairs(tmp_path):
    import csv

    from dml_keras.cli import main
    from tests.conftest import shared_data

    root = shared_data("realsr_x4")
    names = [f"{camera}_{i:03d}" for camera in ("Canon", "Nikon") for i in range(1, 26)]
    val = [n for n in names if int(n[-3:]) % 5 == 0][::2]
    for split, chosen in (("train", [n for n in names if int(n[-3:]) % 5]), ("val", val)):
        with open(tmp_path / f"{split}.csv", "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["hr", "lr"])
            writer.writerows([[root / "hr" / f"{n}.png", root / "lr" / f"{n}.png"] for n in chosen])
    common = [str(tmp_path / "train.csv"), "--arch", "rrdb", "--blocks", "2", "--filters", "16", "--growth", "8",
              "--patch-size", "64", "--batch-size", "4", "--ema-decay", "0.99", "--quiet"]
    # where the run starts: the network as built (a step too small to move it)
    assert main(["train-sr", *common, "--steps", "1", "--learning-rate", "1e-12", "--out", str(tmp_path / "start")]) == 0
    assert main(["train-sr", *common, "--steps", "300", "--steps-per-epoch", "300", "--out", str(tmp_path / "l1")]) == 0
    assert main(["train-sr", *common, "--steps", "120", "--steps-per-epoch", "60", "--loss", "gan", "--d-filters", "16",
                 "--init", str(tmp_path / "l1"), "--out", str(tmp_path / "gan")]) == 0
    scores = {}
    for stage in ("start", "l1", "gan"):
        assert main(["evaluate-sr", str(tmp_path / stage), str(tmp_path / "val.csv"), "--json", str(tmp_path / f"{stage}.json")]) == 0
        scores[stage] = json.loads((tmp_path / f"{stage}.json").read_text())["lpips"]
    with open(tmp_path / "gan" / "history.csv") as handle:
        history = list(csv.DictReader(handle))
    assert {"l_pix", "l_percep", "l_g_gan", "l_d_real", "l_d_fake"} <= set(history[0])
    assert float(history[1]["l_percep"]) < float(history[0]["l_percep"])  # the GAN stage optimizes the VGG loss
    assert scores["gan"] < scores["start"] - 0.1, scores


def test_the_gan_stage_takes_any_rgb_sr_network(tmp_path, photos):
    from dml_keras.models import VDSR
    from dml_keras.workflows.sr import train_sr

    make_hr_lr(tmp_path / "pairs", photos)
    networks = _Networks()
    train_sr(tmp_path / "run", pairs=tmp_path / "pairs", arch="vdsr", depth=3, filters=8, channels="rgb", loss="gan", lr_size="same",
             d_filters=8, patch_size=32, batch_size=2, steps=2, steps_per_epoch=2, verbose=0, callbacks=[networks])
    saved = keras.models.load_model(tmp_path / "run" / "model.keras")
    assert isinstance(saved, VDSR) and saved.lr_size == "same"
    for kept, average in zip(saved.get_weights(), networks.average):
        np.testing.assert_array_equal(kept, average)


def test_init_starts_a_psnr_network_too(tmp_path, photos):
    from dml_keras.workflows.sr import train_sr

    make_hr_lr(tmp_path / "pairs", photos)
    common = dict(pairs=tmp_path / "pairs", depth=3, filters=8, lr_size="native", patch_size=32, batch_size=2,
                  steps=1, steps_per_epoch=1, verbose=0)
    first = train_sr(tmp_path / "a", **common)
    second = train_sr(tmp_path / "b", init=tmp_path / "a", learning_rate=1e-12, **common)
    for a, b in zip(first.get_weights(), second.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-7)
