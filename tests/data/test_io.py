import os

import numpy as np
import pytest
from PIL import Image

from dml_keras.data import DataError, image_size, read_image, write_image
from tests.conftest import shared_data


def test_every_edge_case_file_loads_as_rgb_float():
    folder = shared_data("real_lr", "edge_cases")
    files = sorted(folder.iterdir())
    assert len(files) >= 9
    for path in files:
        image = read_image(path)
        assert image.dtype == np.float32 and image.ndim == 3 and image.shape[2] == 3, path.name
        assert 0.0 <= image.min() and image.max() <= 1.0, path.name
        assert image.shape[:2] == image_size(path), path.name
        assert image.std() > 0.01, path.name  # real content, not a blank decode


def test_sixteen_bit_alpha_png_keeps_sixteen_bit_precision():
    image = read_image(shared_data("real_lr", "edge_cases", "tree_alpha_16bit.png"))
    levels = np.unique(np.round(image * 65535))
    assert np.any(levels % 257 != 0)  # not merely 8-bit values scaled up


def test_greyscale_gives_three_equal_channels():
    image = read_image(shared_data("real_lr", "edge_cases", "wolf_gray.jpg"))
    assert np.array_equal(image[..., 0], image[..., 1]) and np.array_equal(image[..., 1], image[..., 2])


def test_alpha_is_dropped_not_composited(tmp_path, photos):
    rgb = np.round(photos["chelsea"] * 255).astype(np.uint8)
    alpha = np.zeros(rgb.shape[:2], np.uint8)  # fully transparent
    Image.fromarray(np.dstack([rgb, alpha]), "RGBA").save(tmp_path / "a.png")
    np.testing.assert_array_equal(np.round(read_image(tmp_path / "a.png") * 255), rgb)


@pytest.mark.parametrize("orientation,expected", [(6, lambda x: np.rot90(x, 3)), (3, lambda x: np.rot90(x, 2)), (8, lambda x: np.rot90(x, 1)), (2, lambda x: x[:, ::-1])])
def test_exif_orientation_is_honoured(tmp_path, orientation, expected):
    # A picture with a strong, asymmetric structure so a wrong turn cannot pass.
    pixels = np.zeros((40, 64, 3), np.uint8)
    pixels[:10, :20] = 255
    pixels[30:, 50:, 0] = 200
    exif = Image.Exif()
    exif[0x0112] = orientation
    Image.fromarray(pixels).save(tmp_path / "o.jpg", exif=exif, quality=100)
    stored = np.asarray(Image.open(tmp_path / "o.jpg")).astype(np.float32) / 255
    image = read_image(tmp_path / "o.jpg")
    assert image.shape == expected(stored).shape
    assert np.abs(image - expected(stored)).max() < 1e-6
    assert image_size(tmp_path / "o.jpg") == image.shape[:2]


def test_png_round_trip_8_and_16_bit(tmp_path, photos):
    image = photos["coffee"][:50, :70]
    write_image(tmp_path / "a8.png", image)
    assert np.abs(read_image(tmp_path / "a8.png") - image).max() <= 0.5 / 255 + 1e-6
    smooth = np.linspace(0, 1, 70 * 50, dtype=np.float32).reshape(50, 70)
    write_image(tmp_path / "a16.png", smooth, bit_depth=16)
    back = read_image(tmp_path / "a16.png")[..., 0]
    assert np.abs(back - smooth).max() <= 0.5 / 65535 + 1e-6


def test_write_is_atomic_and_leaves_no_temp_file(tmp_path, photos):
    write_image(tmp_path / "sub" / "x.png", photos["rocket"])
    assert os.listdir(tmp_path / "sub") == ["x.png"]


def test_write_failure_leaves_nothing(tmp_path):
    with pytest.raises(ValueError):
        write_image(tmp_path / "bad.png", np.zeros((4, 4, 5)))
    assert not any(tmp_path.iterdir())


def test_an_interrupted_atomic_write_keeps_the_old_file_and_no_temporary(tmp_path):
    from dml_keras.data.files import atomic_file

    (tmp_path / "shard.tfrecord").write_bytes(b"old")
    with pytest.raises(KeyboardInterrupt):
        with atomic_file(tmp_path / "shard.tfrecord") as out:
            out.write(b"half of the new")
            raise KeyboardInterrupt
    assert os.listdir(tmp_path) == ["shard.tfrecord"] and (tmp_path / "shard.tfrecord").read_bytes() == b"old"


def test_truncated_and_missing_and_non_image_files_raise(tmp_path, photos):
    write_image(tmp_path / "full.png", photos["rocket"])
    data = (tmp_path / "full.png").read_bytes()
    (tmp_path / "cut.png").write_bytes(data[: len(data) // 2])
    Image.fromarray(np.round(photos["rocket"] * 255).astype(np.uint8)).save(tmp_path / "full.jpg")
    jpeg = (tmp_path / "full.jpg").read_bytes()
    (tmp_path / "cut.jpg").write_bytes(jpeg[: len(jpeg) // 2])
    (tmp_path / "text.png").write_text("not an image")
    (tmp_path / "empty.jpg").write_bytes(b"")
    for name in ["cut.png", "cut.jpg", "text.png", "empty.jpg", "missing.png"]:
        with pytest.raises(DataError, match=name):
            read_image(tmp_path / name)


@pytest.mark.parametrize("extension", [".bmp", ".tif", ".webp"])
def test_other_formats_load(tmp_path, photos, extension):
    import cv2

    pixels = np.round(photos["coffee"][:40, :50] * 255).astype(np.uint8)
    params = [cv2.IMWRITE_WEBP_QUALITY, 101] if extension == ".webp" else []  # lossless webp
    cv2.imwrite(str(tmp_path / f"x{extension}"), pixels[:, :, ::-1], params)
    np.testing.assert_array_equal(np.round(read_image(tmp_path / f"x{extension}") * 255), pixels)


def test_sixteen_bit_tiff_keeps_precision(tmp_path):
    import cv2

    ramp = (np.arange(40 * 50, dtype=np.uint16).reshape(40, 50) * 13)
    cv2.imwrite(str(tmp_path / "r.tif"), ramp)
    np.testing.assert_allclose(read_image(tmp_path / "r.tif")[..., 0], ramp / 65535.0, atol=1e-7)


def test_written_files_follow_the_umask(tmp_path):
    import stat

    old = os.umask(0o022)
    try:
        write_image(tmp_path / "a.png", np.zeros((4, 4)))
        os.umask(0o077)
        write_image(tmp_path / "b.png", np.zeros((4, 4)))
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(tmp_path / "a.png").st_mode) == 0o644  # readable by a web server or a colleague
    assert stat.S_IMODE(os.stat(tmp_path / "b.png").st_mode) == 0o600
