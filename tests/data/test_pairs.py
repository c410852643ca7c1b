import numpy as np
import pytest

from dml_keras.data import DataError, discover_pairs, load_pair, pair_geometry, write_image
from tests.conftest import hr_lr, make_hr_lr, make_realsr


def test_realsr_layout_with_split_and_scale(tmp_path, photos):
    make_realsr(tmp_path, photos)
    pairs = discover_pairs(tmp_path, scale=4)
    assert sorted(p.name for p in pairs) == ["Canon_001", "Canon_001", "Canon_002", "Canon_002"]
    train = discover_pairs(tmp_path, scale=4, split="Train")
    assert len(train) == 2 and all("/Train/" in p.hr and p.lr.endswith("_LR4.png") for p in train)
    with pytest.raises(DataError, match="No image pairs"):
        discover_pairs(tmp_path, scale=2)


def test_hr_lr_folders_native_and_same(tmp_path, photos):
    make_hr_lr(tmp_path, photos)
    pairs = discover_pairs(tmp_path)
    assert [p.name for p in pairs] == sorted(photos)
    hr, lr = load_pair(pairs[0], scale=4, lr_size="native")
    assert hr.shape == (64, 64, 3) and lr.shape == (16, 16, 3)
    hr, lr = load_pair(pairs[0], scale=4, lr_size="same")
    assert lr.shape == (64, 64, 3)
    # "same" enlarges with MATLAB bicubic: close to the HR it came from.
    assert np.mean(np.abs(hr - lr)) < 0.05


def test_city100_layout(tmp_path, photos):
    for index, photo in enumerate(list(photos.values())[:3], start=1):
        hr, lr = hr_lr(photo, native=False)
        write_image(tmp_path / f"{index:03d}H.PNG", hr)
        write_image(tmp_path / f"{index:03d}L.PNG", lr)
    pairs = discover_pairs(tmp_path)
    assert [p.name for p in pairs] == ["001", "002", "003"]
    assert pair_geometry(pairs[0], 4) == ((64, 64), (64, 64))


def test_csv_layout_relative_paths(tmp_path, photos):
    make_hr_lr(tmp_path / "data", photos)
    (tmp_path / "pairs.csv").write_text("hr,lr\ndata/hr/coffee.png,data/lr/coffee.png\ndata/hr/rocket.png,data/lr/rocket.png\n")
    pairs = discover_pairs(tmp_path / "pairs.csv")
    assert [p.name for p in pairs] == ["coffee", "rocket"]
    assert load_pair(pairs[1], 4, "native")[1].shape == (16, 16, 3)


def test_csv_missing_column_or_file(tmp_path, photos):
    make_hr_lr(tmp_path, photos)
    (tmp_path / "a.csv").write_text("high,low\nhr/coffee.png,lr/coffee.png\n")
    with pytest.raises(DataError, match="'hr' and 'lr'"):
        discover_pairs(tmp_path / "a.csv")
    (tmp_path / "b.csv").write_text("hr,lr\nhr/coffee.png,lr/nope.png\n")
    with pytest.raises(DataError, match="line 2.*nope.png"):
        discover_pairs(tmp_path / "b.csv")


def test_hr_without_lr_and_lr_without_hr(tmp_path, photos):
    make_hr_lr(tmp_path, photos)
    (tmp_path / "lr" / "coffee.png").unlink()
    with pytest.raises(DataError, match="HR image.*no LR partner: coffee"):
        discover_pairs(tmp_path)
    write_image(tmp_path / "lr" / "coffee.png", np.zeros((16, 16)))
    write_image(tmp_path / "lr" / "extra.png", np.zeros((16, 16)))
    with pytest.raises(DataError, match="LR image.*no HR partner: extra"):
        discover_pairs(tmp_path)


def test_size_mismatch_names_file_and_fix(tmp_path, photos):
    make_hr_lr(tmp_path, photos)
    write_image(tmp_path / "lr" / "coffee.png", np.zeros((20, 16)))
    pair = [p for p in discover_pairs(tmp_path) if p.name == "coffee"][0]
    with pytest.raises(DataError, match=r"lr image 'coffee.png' is 20×16 but hr 'coffee.png' is 64×64; expected the same size or 1/4"):
        pair_geometry(pair, 4)


def test_hr_not_multiple_of_scale_is_modcropped(tmp_path, photos):
    write_image(tmp_path / "hr" / "a.png", photos["coffee"][:66, :67])
    write_image(tmp_path / "lr" / "a.png", photos["coffee"][:16, :16])
    hr, lr = load_pair(discover_pairs(tmp_path)[0], 4, "native")
    assert hr.shape == (64, 64, 3) and lr.shape == (16, 16, 3)


def test_missing_and_empty_sources(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        discover_pairs(tmp_path / "nope")
    with pytest.raises(DataError, match="No image pairs found"):
        discover_pairs(tmp_path)
    (tmp_path / "x.txt").write_text("")
    with pytest.raises(DataError, match="not a CSV"):
        discover_pairs(tmp_path / "x.txt")


def test_same_size_pairs_read_at_native_size_give_the_capture_back(tmp_path, photos):
    # City100 / RealSR v3 store LR enlarged to HR size; a native network reads the exact inverse of the enlargement
    from dml_keras.data.io import read_image
    from dml_keras.ops.resize import shrink_enlarged

    make_hr_lr(tmp_path, photos, native=False)
    pair = [p for p in discover_pairs(tmp_path) if p.name == "coffee"][0]
    assert pair_geometry(pair, 4, "native") == ((64, 64), (16, 16))
    hr, lr = load_pair(pair, 4, "native")
    assert (hr.shape, lr.shape) == ((64, 64, 3), (16, 16, 3))
    np.testing.assert_allclose(lr, np.clip(shrink_enlarged(read_image(pair.lr), 4), 0, 1), atol=1e-6)
    _, small = hr_lr(photos["coffee"], native=True)
    assert np.abs(lr - small).max() < 3 / 255  # the capture, up to the 8-bit rounding of the stored enlargement
