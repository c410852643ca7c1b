"""The shipped files score on the held-out real pairs as saved_models/README.md says."""

from pathlib import Path

import keras
import pytest

from dml_keras.workflows.degradation import evaluate_degradation
from tests.conftest import shared_data

SAVED = Path(__file__).resolve().parents[1] / "saved_models"


@pytest.mark.slow
def test_the_large_recipe_models_beat_the_main_ones_and_tie_each_other():
    shared_data("realsr_x4")
    names = ("dml_realsr_x4", "dml_realsr_x4_large", "baselines/directnet_realsr_x4", "baselines/directnet_realsr_x4_large")
    models = {name: keras.models.load_model(SAVED / f"{name}.keras") for name in names}
    scores = {name: evaluate_degradation(model, SAVED / "realsr_x4_val.csv", progress=False)["psnr"]
              for name, model in models.items()}
    large, directnet_large = models["dml_realsr_x4_large"], models["baselines/directnet_realsr_x4_large"]
    assert (large.predictor.filters, large.num_basis, large.kernel_size) == (64, 8, 15)
    assert directnet_large.filters == 64
    # measured: 36.64 (DML, 64 channels, GPU, large recipe), 36.41 (DML, 32 channels, CPU), 36.04 (DirectNet, CPU),
    # 36.61 (DirectNet, 64 channels, GPU, large recipe)
    assert scores["dml_realsr_x4_large"] == pytest.approx(36.64, abs=0.01)
    assert scores["baselines/directnet_realsr_x4_large"] == pytest.approx(36.61, abs=0.01)
    assert scores["dml_realsr_x4_large"] > scores["dml_realsr_x4"] + 0.2
    # as wide and trained as long, the two tie
    assert abs(scores["dml_realsr_x4_large"] - scores["baselines/directnet_realsr_x4_large"]) < 0.1


@pytest.mark.slow
def test_the_cpu_baselines_start_at_dmls_blur_and_come_within_half_a_db_of_it():
    shared_data("realsr_x4")
    names = ("dml_realsr_x4", "baselines/directnet_realsr_x4", "baselines/directkpn_realsr_x4")
    models = {name: keras.models.load_model(SAVED / f"{name}.keras") for name in names}
    scores = {name: evaluate_degradation(model, SAVED / "realsr_x4_val.csv", progress=False)["psnr"]
              for name, model in models.items()}
    assert models["baselines/directnet_realsr_x4"].residual_on == "blur"
    assert models["baselines/directkpn_realsr_x4"].kernel_init == "gaussian"
    # measured: 36.29 (DirectNet correcting DML's first blur, default recipe, seed 0), 36.00 (DirectKPN from
    # that blur), 36.41 (DML, the default recipe without the weight average)
    assert scores["baselines/directnet_realsr_x4"] == pytest.approx(36.29, abs=0.01)
    assert scores["baselines/directkpn_realsr_x4"] == pytest.approx(36.00, abs=0.01)
    assert scores["dml_realsr_x4"] - 0.5 < min(scores["baselines/directnet_realsr_x4"], scores["baselines/directkpn_realsr_x4"])


@pytest.mark.slow
def test_sr_trained_on_dml_pairs_beats_sr_trained_on_bicubic_pairs_on_real_photos():
    from dml_keras.workflows.sr import evaluate_sr

    shared_data("realsr_x4")
    names = ("table2/syndml_5000", "table2/syndml_noise0to5_5000", "table2/bicubic_5000")
    scores = {name: evaluate_sr(keras.models.load_model(SAVED / f"{name}.keras"), SAVED / "realsr_x4_val.csv",
                                progress=False) for name in names}
    dml, less_noise, bicubic = (scores[name] for name in names)
    # measured (PSNR / SSIM / LPIPS): 29.18 / 0.7846 / 0.397 from the 94 clean photos degraded by the shipped DML with
    # white noise of sigma 5; 28.94 / 0.7807 / 0.343 with sigma drawn per photo from 0-5; 28.26 / 0.7705 / 0.398 from
    # bicubic pairs of the same photos. The same network and 5000 steps; the real LR as input.
    # PSNR as measured: DML pairs 0.92 dB above bicubic pairs, less noise 0.24 dB below DML pairs
    assert (dml["psnr"], less_noise["psnr"], bicubic["psnr"]) == pytest.approx((29.18, 28.94, 28.26), abs=0.01)
    assert dml["ssim"] > bicubic["ssim"] + 0.01
    # ... and what the quarter dB buys: a much better LPIPS than either
    assert less_noise["lpips"] < min(dml["lpips"], bicubic["lpips"]) - 0.04


def _perceptual(name):
    return keras.models.load_model(SAVED / "perceptual" / f"{name}.keras")


@pytest.mark.slow
def test_perceptual_recipe_on_syn_dml_pairs_beats_it_on_hand_crafted_pairs():
    # Real-ESRGAN's recipe (RRDB 6 x 32, L1 stage then GAN stage) with one budget, crops and seed for every row
    from dml_keras.models import RRDBNet
    from dml_keras.workflows.sr import evaluate_sr

    shared_data("realsr_x4")
    names = ("handcrafted_l1", "handcrafted_gan", "syndml_l1", "syndml_gan")
    models = {name: _perceptual(name) for name in names}
    assert all(isinstance(m, RRDBNet) and (m.num_blocks, m.filters, m.growth) == (6, 32, 16) for m in models.values())
    scores = {name: evaluate_sr(model, SAVED / "realsr_x4_val.csv", progress=False) for name, model in models.items()}
    # measured (saved_models/README.md, "Perceptual SR"): held-out PSNR on Y
    expected = {"handcrafted_l1": 25.66, "syndml_l1": 27.03, "syndml_gan": 26.91}
    for name, psnr in expected.items():
        assert scores[name]["psnr"] == pytest.approx(psnr, abs=0.01), name
    for stage in ("l1", "gan"):
        syndml, handcrafted = scores[f"syndml_{stage}"], scores[f"handcrafted_{stage}"]
        assert syndml["psnr"] > handcrafted["psnr"] + 0.5, stage
        assert syndml["lpips"] < handcrafted["lpips"] - 0.02, stage
    # the GAN stage trades a little PSNR for LPIPS
    assert scores["syndml_gan"]["lpips"] < scores["syndml_l1"]["lpips"] - 0.01
    assert scores["syndml_gan"]["psnr"] > scores["syndml_l1"]["psnr"] - 1.5


@pytest.mark.slow
def test_learned_blur_with_hand_crafted_noise_does_not_amplify_jpeg_and_noise():
    # clean photos none of the models saw, bicubic x4 + noise sigma 10-20 + JPEG 30-60 (saved_models/perceptual_study.py).
    # The margins were measured with Set5 beside the four scikit-image photos; on those four alone the GAN's lead
    # was 0.97 dB on another CPU, so the finding is asserted only on the data it was measured on.
    shared_data("set5", "HR")
    import importlib.util

    from dml_keras.metrics import psnr

    spec = importlib.util.spec_from_file_location("perceptual_study", SAVED / "perceptual_study.py")
    study = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(study)
    photos = study.wild_photos()
    cases = [study.degrade_wild(hr, seed)[:2] for seed, hr in enumerate(photos.values())]
    models = {"vdsr": keras.models.load_model(SAVED / "table2" / "real_syndml_5000.keras"),
              "l1": _perceptual("blur_handcrafted_l1"), "gan": _perceptual("blur_handcrafted_gan")}
    scores = {name: sum(psnr(m.super_resolve(lr)[: hr.shape[0], : hr.shape[1]], hr, 4) for hr, lr in cases) / len(cases)
              for name, m in models.items()}
    # measured with Set5 beside the four: 22.84 (VDSR), 25.56 (L1), 24.25 (GAN)
    assert scores["l1"] > scores["vdsr"] + 1.0, scores
    assert scores["gan"] > scores["vdsr"] + 1.0, scores
