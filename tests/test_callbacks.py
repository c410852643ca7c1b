import numpy as np
import tensorflow as tf

from dml_keras.callbacks import ImageSummaries
from dml_keras.models import VDSR, DegradationModel


def _logged_images(log_dir):
    images = {}
    for path in (log_dir / "images").glob("events.out.tfevents.*"):
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            for value in event.summary.value:
                encoded = tf.make_ndarray(value.tensor)[2]
                images[value.tag] = tf.io.decode_png(encoded).numpy()
    return images


def _panel_bytes(image):
    return np.round(np.clip(image, 0, 1) * 255).astype(np.uint8)


def test_sr_example_image_shows_lr_sr_hr(tmp_path, photos):
    hr = photos["astronaut"][None, 100:132, 200:248, :1]
    lr = hr[:, ::-1]  # any input: the panels must show exactly what went in and came out
    model = VDSR(depth=3, filters=8, channels="y")
    callback = ImageSummaries(str(tmp_path), lr, hr, "lr_sr_hr")
    callback.set_model(model)
    callback.on_epoch_end(0)
    image = _logged_images(tmp_path)["lr_sr_hr"]
    assert image.shape == (32, 3 * 48, 1)
    np.testing.assert_array_equal(image[:, :48], _panel_bytes(lr[0]))
    np.testing.assert_array_equal(image[:, 48:96], _panel_bytes(model(lr).numpy()[0]))
    np.testing.assert_array_equal(image[:, 96:], _panel_bytes(hr[0]))


def test_degradation_example_image_enlarges_native_lr_and_adds_basis(tmp_path, photos):
    hr = photos["coffee"][None, :32, :48, :1]
    lr = hr[:, ::4, ::4]
    model = DegradationModel(num_basis=4, kernel_size=7, lr_size="native", seed=0)
    callback = ImageSummaries(str(tmp_path), hr, lr, "hr_generated_lr_real_lr")
    callback.set_model(model)
    callback.on_epoch_end(0)
    images = _logged_images(tmp_path)
    panel = images["hr_generated_lr_real_lr"]
    assert panel.shape == (32, 3 * 48, 1)
    np.testing.assert_array_equal(panel[::4, 96::4], _panel_bytes(lr[0]))
    np.testing.assert_array_equal(panel[1::4, 97::4], _panel_bytes(lr[0]))  # pixel repetition
    assert "basis_kernels" in images
