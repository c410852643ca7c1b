"""`dml align`: registration of two captures (known warps of real photos), refinement, report, folder, CLI."""

import json
import os

import cv2
import numpy as np
import pytest
from PIL import Image

from dml_keras.workflows.align import align_folder, align_pair, focal_ratio, transform_rms
from dml_keras.data.io import read_image, write_image
from dml_keras.errors import DataError
from dml_keras.ops.resize import imresize
from tests.conftest import shared_data


def _capture(photo, scale, rng, box, local_bump=0.0):
    """A simulated short-focal-length capture of `photo` and the true lattice→capture transform.

    The HR capture is `photo[box]`; the LR capture sees the whole photo at 1/`scale`, rotated up to ±3°, tilted,
    shifted, blurred, with another exposure (gain 0.8–1.2, offset ±10), noise σ 2–5 and JPEG 80. The
    reference resampling uses an independent construction (NumPy homographies, OpenCV warps); `local_bump`
    adds a smooth local displacement of that many LR px around one point, which no global transform explains.
    """
    top, left, height, width = box
    lattice = imresize(photo, output_size=(photo.shape[0] // scale, photo.shape[1] // scale)).astype(np.float32)
    lattice = cv2.GaussianBlur(lattice, (0, 0), 0.6)
    rows, cols = lattice.shape[:2]
    angle = np.deg2rad(rng.uniform(-3, 3))
    centre = np.array([[1, 0, -cols / 2], [0, 1, -rows / 2], [0, 0, 1]])
    back = np.array([[1, 0, cols / 2 + rng.uniform(-5, 5)], [0, 1, rows / 2 + rng.uniform(-5, 5)], [0, 0, 1]])
    rotation = np.array([[np.cos(angle), -np.sin(angle), 0], [np.sin(angle), np.cos(angle), 0], [0, 0, 1]])
    tilt = np.eye(3)
    tilt[2, :2] = rng.uniform(-2e-4, 2e-4, 2)
    to_photo = back @ tilt @ rotation @ centre  # capture px → photo-lattice px
    ys, xs = np.mgrid[0:rows, 0:cols].astype(np.float32)
    points = np.stack([xs, ys, np.ones_like(xs)], -1) @ to_photo.T
    map_x, map_y = points[..., 0] / points[..., 2], points[..., 1] / points[..., 2]
    if local_bump:
        bump = local_bump * np.exp(-((xs - cols * 0.3) ** 2 + (ys - rows * 0.3) ** 2) / (2 * (min(rows, cols) / 8) ** 2))
        map_x = map_x + bump
    capture = cv2.remap(lattice, map_x.astype(np.float32), map_y.astype(np.float32), cv2.INTER_CUBIC,
                        borderMode=cv2.BORDER_REFLECT)
    capture = capture * rng.uniform(0.8, 1.2) + rng.uniform(-10, 10) / 255
    capture = np.clip(capture + rng.normal(0, rng.uniform(2, 5) / 255, capture.shape), 0, 1)
    _, data = cv2.imencode(".jpg", np.round(capture[..., ::-1] * 255).astype(np.uint8), [cv2.IMWRITE_JPEG_QUALITY, 80])
    capture = cv2.imdecode(data, cv2.IMREAD_COLOR)[..., ::-1].astype(np.float32) / 255
    lattice_shift = np.array([[1, 0, left / scale], [0, 1, top / scale], [0, 0, 1]])
    true = np.linalg.inv(to_photo) @ lattice_shift
    return photo[top : top + height, left : left + width], capture, true / true[2, 2]


def _hr_box(photo, scale):
    """An HR capture framing the central 80% of the photo, on the `scale` lattice."""
    rows, cols = photo.shape[:2]
    step = 12
    return (rows // 10 // step * step, cols // 10 // step * step, int(rows * 0.8) // step * step,
            int(cols * 0.8) // step * step)


def _psnr(a, b):
    return 10 * np.log10(1 / np.mean((a.astype(np.float64) - b) ** 2))


def _check_known_warp(photo, scale, seed):
    photo = photo[: photo.shape[0] // scale * scale, : photo.shape[1] // scale * scale]
    box = _hr_box(photo, scale)
    hr, capture, true = _capture(photo, scale, np.random.default_rng(seed), box)
    aligned = align_pair(hr, capture, scale)
    size = (hr.shape[0] // scale, hr.shape[1] // scale)
    assert transform_rms(aligned.report["transform"], true, size) <= 0.1
    top, left, height, width = (v // scale for v in aligned.report["valid"]["hr_box"])
    expected = cv2.warpPerspective(capture, true, (size[1], size[0]), flags=cv2.INTER_CUBIC | cv2.WARP_INVERSE_MAP)
    assert _psnr(np.clip(expected[top : top + height, left : left + width], 0, 1), aligned.lr) >= 40
    assert aligned.hr.shape == (height * scale, width * scale, 3)
    assert aligned.report["accepted"], aligned.report["reason"]
    return aligned


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_known_warp_of_a_photo_comes_back_within_a_tenth_of_a_pixel(photos, scale):
    aligned = _check_known_warp(photos["astronaut"], scale, seed=scale)
    assert aligned.report["valid"]["fraction"] > 0.9  # the capture sees more than the HR: little is cut


@pytest.mark.parametrize("name,scale", [("clean_hr/sunhays80/img_001.png", 4), ("clean_hr/sunhays80/img_005.png", 3),
                                        ("city100_nikon/001H.PNG", 3), ("realsr_v1_fullres/Canon_003_HR.png", 2),
                                        ("realsr_v1_fullres/Canon_003_HR.png", 4)])
def test_known_warp_of_real_photos(name, scale):
    _check_known_warp(read_image(shared_data(*name.split("/"))), scale, seed=len(name) + scale)


def _small_warp(shape, rng):
    centre = np.array([[1, 0, -shape[1] / 2], [0, 1, -shape[0] / 2], [0, 0, 1]])
    angle, zoom = np.deg2rad(rng.uniform(-0.5, 0.5)), rng.uniform(0.995, 1.005)
    turn = np.array([[zoom * np.cos(angle), -zoom * np.sin(angle), 0], [zoom * np.sin(angle), zoom * np.cos(angle), 0],
                     [0, 0, 1]])
    back = np.array([[1, 0, shape[1] / 2 + rng.uniform(-1.5, 1.5)], [0, 1, shape[0] / 2 + rng.uniform(-1.5, 1.5)],
                     [0, 0, 1]])
    return back @ turn @ centre


@pytest.mark.parametrize("source,names,scale", [("realsr_x4", ("Canon_004", "Nikon_009"), 4),
                                                ("city100_nikon", ("001",), 3)])
def test_refine_recovers_a_known_small_warp_of_real_aligned_pairs(source, names, scale):
    from dml_keras.data.pairs import discover_pairs

    pairs = {p.name: p for p in discover_pairs(shared_data(source))}
    rng = np.random.default_rng(7)
    for name in names:
        hr, lr = read_image(pairs[name].hr), read_image(pairs[name].lr)
        before = align_pair(hr, lr, scale, refine=True)
        warp = _small_warp(lr.shape, rng)  # the LR file's pixel q now shows what was at warp·q
        warped = cv2.warpPerspective(lr, warp, (lr.shape[1], lr.shape[0]), flags=cv2.INTER_CUBIC | cv2.WARP_INVERSE_MAP,
                                     borderMode=cv2.BORDER_REFLECT)
        after = align_pair(hr, warped, scale, refine=True)
        unit = scale if lr.shape == hr.shape else 1  # same-size pairs are registered in HR px
        expected = np.linalg.inv(warp) @ np.array(before.report["transform"])
        size = (hr.shape[0] // (scale // unit), hr.shape[1] // (scale // unit))
        assert transform_rms(after.report["transform"], expected, size) / unit <= 0.1
        assert after.report["frame_offset_max"] > 0.4  # and the report says how far the pair was off


def test_a_pair_from_two_scenes_is_refused_naming_both(photos, tmp_path):
    hr, lr = tmp_path / "castle.png", tmp_path / "cat.png"
    write_image(hr, photos["astronaut"])
    write_image(lr, imresize(photos["chelsea"], scale=0.25))
    with pytest.raises(DataError, match="castle.png.*cat.png.*do not look like the same scene"):
        align_pair(str(hr), str(lr), 4)


def test_captures_that_are_not_scale_apart_are_refused_with_the_measured_ratio(photos):
    photo = photos["astronaut"]
    hr, capture, _ = _capture(photo, 2, np.random.default_rng(0), _hr_box(photo, 2))
    with pytest.raises(DataError, match=r"1\.9\dx finer|2\.0\dx finer"):
        align_pair(hr, capture, 4)


def _jpeg_with_focal_length(path, image, focal_mm):
    exif = Image.Exif()
    exif.get_ifd(0x8769)[0x920A] = float(focal_mm)
    Image.fromarray(np.round(image * 255).astype(np.uint8)).save(path, quality=95, exif=exif.tobytes())


def test_exif_focal_lengths_are_read_and_checked(photos, tmp_path):
    photo = photos["astronaut"]
    hr, capture, true = _capture(photo, 4, np.random.default_rng(3), _hr_box(photo, 4))
    _jpeg_with_focal_length(tmp_path / "tele.jpg", hr, 140)
    _jpeg_with_focal_length(tmp_path / "wide.jpg", capture, 35)
    ratio = focal_ratio(tmp_path / "tele.jpg", tmp_path / "wide.jpg")
    assert ratio == pytest.approx(4.0 * hr.shape[1] / capture.shape[1])  # f ratio times the width ratio
    _jpeg_with_focal_length(tmp_path / "wide_2x.jpg", capture, 35 * 4 * hr.shape[1] / capture.shape[1] / 2)
    with pytest.raises(DataError, match=r"EXIF focal lengths .* 2\.00x apart, not --scale 4"):
        align_pair(str(tmp_path / "tele.jpg"), str(tmp_path / "wide_2x.jpg"), 4)
    assert focal_ratio(tmp_path / "tele.jpg", __file__) is None  # no EXIF: the features decide


def test_a_local_warp_is_flagged_by_the_tiles_and_local_refinement_takes_it_out(photos):
    photo = photos["astronaut"]
    box = _hr_box(photo, 2)
    hr, clean, _ = _capture(photo, 2, np.random.default_rng(5), box)
    hr, bumped, _ = _capture(photo, 2, np.random.default_rng(5), box, local_bump=2.0)
    assert align_pair(hr, clean, 2).report["residual"]["p95"] < 0.2
    flagged = align_pair(hr, bumped, 2).report
    assert not flagged["accepted"] and flagged["residual"]["p95"] > 0.5 and "local warp" in flagged["reason"]
    corrected = align_pair(hr, bumped, 2, local=True).report
    assert corrected["accepted"] and corrected["residual"]["p95"] < 0.6 * flagged["residual"]["p95"]


def test_exposure_is_measured_always_and_applied_only_on_request(photos):
    photo = photos["coffee"]
    hr, capture, _ = _capture(photo, 2, np.random.default_rng(11), _hr_box(photo, 2))
    kept, matched = align_pair(hr, capture, 2), align_pair(hr, capture, 2, match_exposure=True)
    gain, offset = kept.report["luminance"]["gain"], kept.report["luminance"]["offset"] / 255
    assert not kept.report["luminance"]["applied"] and matched.report["luminance"]["applied"]
    np.testing.assert_allclose(matched.lr, np.clip((kept.lr - offset) / gain, 0, 1), atol=1e-5)
    reference = imresize(kept.hr, output_size=kept.lr.shape[:2])
    assert abs(np.mean(matched.lr - reference)) < abs(np.mean(kept.lr - reference)) or abs(gain - 1) < 0.02


def test_lr_size_same_is_the_bicubic_enlargement_of_the_native_lr(photos):
    photo = photos["chelsea"]
    hr, capture, _ = _capture(photo, 3, np.random.default_rng(2), _hr_box(photo, 3))
    native, same = align_pair(hr, capture, 3), align_pair(hr, capture, 3, lr_size="same")
    assert same.lr.shape == same.hr.shape == native.hr.shape
    np.testing.assert_allclose(same.lr, np.clip(imresize(native.lr, output_size=native.hr.shape[:2]), 0, 1), atol=1e-6)


def test_undistorting_with_the_camera_parameters_removes_lens_distortion(photos):
    photo = photos["astronaut"]
    box = _hr_box(photo, 2)
    hr, capture, true = _capture(photo, 2, np.random.default_rng(4), box)
    rows, cols = capture.shape[:2]
    camera = {"camera_matrix": [[cols, 0, cols / 2], [0, cols, rows / 2], [0, 0, 1]], "dist_coeffs": [-0.25, 0, 0, 0, 0]}
    # barrel distortion applied to the capture: each distorted pixel shows the undistorted point it comes from
    ys, xs = np.mgrid[0:rows, 0:cols].astype(np.float32)
    grid = np.stack([xs.ravel(), ys.ravel()], -1)[:, None]
    matrix = np.asarray(camera["camera_matrix"], np.float64)
    source = cv2.undistortPoints(grid, matrix, np.asarray(camera["dist_coeffs"]), P=matrix).reshape(rows, cols, 2)
    distorted = cv2.remap(capture, source[..., 0], source[..., 1], cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT)
    assert not align_pair(hr, distorted, 2).report["accepted"]  # the tiles see the bent lines
    fixed = align_pair(hr, distorted, 2, camera={"hr": None, "lr": camera})
    assert fixed.report["accepted"] and fixed.report["undistorted"]
    assert transform_rms(fixed.report["transform"], true, (hr.shape[0] // 2, hr.shape[1] // 2)) <= 0.25


def _captures_folder(photos, root, scale=2, unrelated=False):
    for index, name in enumerate(("astronaut", "coffee", "chelsea")):
        photo = photos[name][: photos[name].shape[0] // scale * scale, : photos[name].shape[1] // scale * scale]
        hr, capture, _ = _capture(photo, scale, np.random.default_rng(index), _hr_box(photo, scale))
        write_image(root / "hr" / f"{name}.png", hr)
        write_image(root / "lr" / f"{name}.png", capture)
    if unrelated:
        write_image(root / "hr" / "mixed.png", photos["rocket"])
        write_image(root / "lr" / "mixed.png", imresize(photos["coffee"], scale=1 / scale))
    return root


def test_align_folder_writes_pairs_every_reader_takes_lists_refusals_and_resumes(photos, tmp_path):
    from dml_keras.data.pairs import discover_pairs, pair_geometry

    captures = _captures_folder(photos, tmp_path / "captures", unrelated=True)
    out = tmp_path / "pairs"
    summary = align_folder(captures, out, 2, progress=False)
    assert sorted(summary["pairs"]) == ["astronaut", "chelsea", "coffee"]
    assert list(summary["left_out"]) == ["mixed"] and "same scene" in summary["left_out"]["mixed"]["reason"]
    pairs = discover_pairs(out)
    assert [p.name for p in pairs] == ["astronaut", "chelsea", "coffee"]  # the refused pair has no files
    for pair in pairs:
        (hr_h, hr_w), (lr_h, lr_w) = pair_geometry(pair, 2, "native")
        assert (hr_h, hr_w) == (lr_h * 2, lr_w * 2) == read_image(pair.hr).shape[:2]
        assert (out / "figures" / f"{pair.name}.png").exists()
    on_disk = json.loads((out / "alignment.json").read_text())
    assert on_disk["pairs"]["coffee"]["transform"] == summary["pairs"]["coffee"]["transform"]
    # a run killed while it worked on "coffee": only that pair is done again
    stamps = {name: os.stat(out / "hr" / f"{name}.png").st_mtime_ns for name in ("astronaut", "chelsea")}
    os.remove(out / "reports" / "coffee.json")
    os.remove(out / "lr" / "coffee.png")
    again = align_folder(captures, out, 2, progress=False)
    assert {name: os.stat(out / "hr" / f"{name}.png").st_mtime_ns for name in stamps} == stamps
    assert (out / "lr" / "coffee.png").exists() and again["pairs"]["coffee"] == summary["pairs"]["coffee"]


def test_cli_align_then_train_degradation_reads_the_pairs(photos, tmp_path, capsys):
    from dml_keras.cli import main

    captures = _captures_folder(photos, tmp_path / "captures", unrelated=True)
    assert main(["align", str(captures), "--out", str(tmp_path / "pairs"), "--scale", "2", "--quiet"]) == 0
    captured = capsys.readouterr()
    assert "3 aligned pairs" in captured.out and "left out mixed:" in captured.err
    assert main(["align", str(tmp_path / "nowhere"), "--out", str(tmp_path / "x")]) == 2
    assert "does not exist" in capsys.readouterr().err
    (tmp_path / "bad.json").write_text('{"camera_matrix": [1, 2]}')
    assert main(["align", str(captures), "--out", str(tmp_path / "y"), "--camera", str(tmp_path / "bad.json")]) == 2
    assert "camera_matrix" in capsys.readouterr().err


@pytest.mark.slow
def test_cli_align_of_warped_real_pairs_trains_the_same_degradation_as_the_originals(tmp_path, capsys):
    """align → train-degradation on six RealSR pairs whose LR was rotated and shifted, against the same training
    on the pairs as published: held-out PSNR of the generated LR within 0.1 dB (the closed-form global kernel,
    so that the only difference is the data)."""
    from dml_keras.cli import main
    from dml_keras.data.pairs import discover_pairs

    pairs = [p for p in discover_pairs(shared_data("realsr_x4")) if p.name.endswith(("01", "07", "13"))]
    rng = np.random.default_rng(0)
    for pair in pairs:
        lr = read_image(pair.lr)
        warp = _small_warp(lr.shape, rng) @ _small_warp(lr.shape, rng)
        angle = np.deg2rad(rng.uniform(-2, 2))
        c, s = np.cos(angle), np.sin(angle)
        turn = np.array([[c, -s, 64 - 64 * c + 64 * s + 3], [s, c, 64 - 64 * s - 64 * c - 2], [0, 0, 1]])
        captured = cv2.warpPerspective(lr, turn @ warp, (128, 128), flags=cv2.INTER_CUBIC | cv2.WARP_INVERSE_MAP,
                                       borderMode=cv2.BORDER_REFLECT)
        write_image(tmp_path / "captures" / "hr" / f"{pair.name}.png", read_image(pair.hr))
        write_image(tmp_path / "captures" / "lr" / f"{pair.name}.png", captured)
        write_image(tmp_path / "original" / "hr" / f"{pair.name}.png", read_image(pair.hr))
        write_image(tmp_path / "original" / "lr" / f"{pair.name}.png", lr)
    assert main(["align", str(tmp_path / "captures"), "--out", str(tmp_path / "aligned"), "--scale", "4", "--quiet"]) == 0
    assert f"{len(pairs)} aligned pairs" in capsys.readouterr().out
    val = [p for p in discover_pairs(shared_data("realsr_x4")) if p.name.endswith(("05", "10"))]
    with open(tmp_path / "val.csv", "w") as handle:
        handle.write("hr,lr\n" + "".join(f"{p.hr},{p.lr}\n" for p in val))
    scores = {}
    for name in ("aligned", "original"):
        assert main(["train-degradation", str(tmp_path / name), "--model", "global-kernel", "--val",
                     str(tmp_path / "val.csv"), "--out", str(tmp_path / f"run_{name}")]) == 0
        assert main(["evaluate-degradation", str(tmp_path / f"run_{name}" / "model.keras"), str(tmp_path / "val.csv"),
                     "--json", str(tmp_path / f"{name}.json")]) == 0
        scores[name] = json.loads((tmp_path / f"{name}.json").read_text())["psnr"]
    assert abs(scores["aligned"] - scores["original"]) <= 0.1, scores


def test_alignment_figure_shows_the_hr_grid_the_aligned_lr_and_their_difference(photos):
    from dml_keras.visualization import alignment_figure

    photo = photos["coffee"]
    aligned = align_pair(*_capture(photo, 2, np.random.default_rng(1), _hr_box(photo, 2))[:2], 2)
    figure = alignment_figure(aligned.hr, aligned.lr, aligned.report)
    height, width = aligned.lr.shape[:2]
    assert figure.shape == (height, 4 * width + 12, 3)
    below_label = slice(height // 4, height)  # under the labels' band
    reference = np.clip(imresize(aligned.hr, output_size=(height, width)), 0, 1)
    np.testing.assert_allclose(figure[below_label, :width], reference[below_label], atol=1 / 255)
    np.testing.assert_allclose(figure[below_label, width + 4 : 2 * width + 4], aligned.lr[below_label], atol=1 / 255)
    difference = figure[below_label, 2 * (width + 4) : 3 * width + 8]
    expected = np.clip(0.5 + 4 * (aligned.lr - reference), 0, 1)[below_label]
    assert np.mean(np.abs(difference - expected) < 2 / 255) > 0.95  # all but the drawn arrows


def test_resample_hr_keeps_the_lr_pixels_as_captured_and_moves_the_hr_instead(photos):
    photo = photos["astronaut"]
    hr, capture, true = _capture(photo, 2, np.random.default_rng(8), _hr_box(photo, 2))
    aligned = align_pair(hr, capture, 2, resample="hr")
    top, left, height, width = aligned.report["valid"]["lr_box"]
    np.testing.assert_array_equal(aligned.lr, capture[top : top + height, left : left + width])  # untouched
    assert transform_rms(aligned.report["transform"], true, (hr.shape[0] // 2, hr.shape[1] // 2)) <= 0.1
    # the HR is the HR capture sampled where the true transform puts each LR pixel's 2 × 2 block
    to_hr = np.array([[2, 0, 0.5], [0, 2, 0.5], [0, 0, 1]])
    corner = np.array([[1, 0, 2 * left], [0, 1, 2 * top], [0, 0, 1]])
    expected = cv2.warpPerspective(hr, to_hr @ np.linalg.inv(true) @ np.linalg.inv(to_hr) @ corner,
                                   (2 * width, 2 * height), flags=cv2.INTER_CUBIC | cv2.WARP_INVERSE_MAP)
    assert _psnr(np.clip(expected, 0, 1), aligned.hr) >= 40
    assert aligned.report["accepted"] and aligned.report["residual"]["p95"] < 0.2


def test_a_lone_mismeasured_tile_is_ignored_and_named_while_a_coherent_warp_is_not():
    from dml_keras.workflows.align import isolated_tiles

    grid = [(y, x) for y in range(8, 100, 16) for x in range(8, 100, 16)]  # 6 × 6 tiles of 16 px
    rng = np.random.default_rng(0)
    rows = np.array([(y, x, *rng.normal(0, 0.03, 2)) for y, x in grid])
    lone = rows.copy()
    lone[14, 2:] = (1.2, -0.3)  # one low-texture tile measured 1.2 px off, its neighbours near 0
    assert isolated_tiles(lone, 16, 0.5).tolist() == [14]
    warped = rows.copy()
    for index in (14, 15, 20, 21):  # a moving object: four neighbouring tiles shifted alike
        warped[index, 2:] += (0.9 + 0.1 * (index % 2), 0.4)
    assert isolated_tiles(warped, 16, 0.5).tolist() == []
    both = warped.copy()
    both[0, 2:] = (-0.8, 0.7)
    assert isolated_tiles(both, 16, 0.5).tolist() == [0]


def _flat_with_one_edge(image, top, left, size, angle, contrast):
    """`image` with a bright, nearly flat square holding one straight edge (the aperture problem's worst case)."""
    image = image.copy()
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float32)
    edge = (np.cos(angle) * (xs - size / 2) + np.sin(angle) * (ys - size / 2)) > 0
    patch = 0.95 + 0.005 * ys / size - contrast * edge
    image[top:top + size, left:left + size] = patch if image.ndim == 2 else patch[..., None]
    return image


def test_a_noisy_flat_tile_with_one_edge_is_not_measured_and_the_others_are_right(photos):
    from dml_keras.workflows.align import tile_shifts

    rng = np.random.default_rng(0)
    grey = cv2.cvtColor(photos["astronaut"], cv2.COLOR_RGB2GRAY)  # 512², 64-px tiles
    for angle in np.linspace(0, np.pi, 6, endpoint=False):
        reference = _flat_with_one_edge(grey, 128, 256, 64, angle, 0.3)
        image = cv2.warpAffine(reference, np.float32([[1, 0, 0.3], [0, 1, -0.2]]), (512, 512),
                               flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT)  # image(u) = reference(u − d)
        image = np.clip(image + rng.normal(0, 4 / 255, image.shape), 0, 1)  # noise alone looks like detail
        _, data = cv2.imencode(".jpg", np.round(image * 255).astype(np.uint8), [cv2.IMWRITE_JPEG_QUALITY, 80])
        image = cv2.imdecode(data, cv2.IMREAD_GRAYSCALE).astype(np.float32) / 255
        rows, tile = tile_shifts(reference, image)
        assert tile == 64 and len(rows) >= 40
        assert not np.any((rows[:, 0] == 159.5) & (rows[:, 1] == 287.5))  # unblurred: measured, up to 2.1 px off
        assert np.percentile(np.hypot(rows[:, 2] + 0.2, rows[:, 3] - 0.3), 95) < 0.25


def test_simulated_captures_with_a_low_texture_area_are_all_kept(photos):
    photo = photos["astronaut"]
    for seed in range(3):
        rng = np.random.default_rng(seed)
        marked = _flat_with_one_edge(photo, *rng.integers(100, 300, 2), 192, rng.uniform(0, np.pi), 0.3)
        hr, capture, true = _capture(marked, 2, rng, _hr_box(marked, 2))
        report = align_pair(hr, capture, 2).report
        assert report["accepted"], report["reason"]
        assert report["residual"]["p95"] < 0.3
        assert transform_rms(report["transform"], true, (hr.shape[0] // 2, hr.shape[1] // 2)) <= 0.1
