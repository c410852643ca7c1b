"""The pretrained models that install with the package, by name: `dml_keras.load_model("dml_realsr_x4")`.

Each preset is one `.keras` file in `dml_keras/preset_files/` (package data
of the wheel), checked against its SHA-256 when it is loaded. The scores are
the ones measured on the 10 held-out RealSR ×4 pairs (Canon and Nikon 005,
010, 015, 020, 025), at the final checkpoint: generated-LR PSNR on Y (crop 7)
for degradation models, SR PSNR / SSIM on Y (crop 4) and LPIPS (AlexNet)
for SR networks. How each was trained: `saved_models/README.md` in the
repository (`source` is its file there).
"""

import dataclasses
import hashlib
from pathlib import Path

from dml_keras.errors import DataError

PRESET_DIR = Path(__file__).resolve().parent / "preset_files"


@dataclasses.dataclass(frozen=True)
class Preset:
    """One shipped model: its name, what it is for and what it scored."""

    name: str
    family: str  # "degradation" or "sr"
    scale: int
    trained_on: str
    use: str
    scores: dict
    source: str
    sha256: str

    @property
    def path(self):
        return PRESET_DIR / f"{self.name}.keras"


PRESETS = {preset.name: preset for preset in (
    Preset("dml_realsr_x4", "degradation", 4, "40 RealSR x4 pairs (Canon and Nikon DSLRs), 3000 CPU steps",
           "synthesize realistic LR of these cameras from clean photos (dml demo uses it)",
           {"lr_psnr": 36.41}, "dml_realsr_x4.keras",
           "4def7f09435264a8f2c759a820af4e4badc04f7a8a0718c3a343c9a4c03c3e8e"),
    Preset("dml_realsr_x4_large", "degradation", 4, "the same 40 pairs, the large recipe on a GPU, 64 channels",
           "the closest match to these cameras; 2.5x slower to run", {"lr_psnr": 36.64}, "dml_realsr_x4_large.keras",
           "6ee3006aafd55095d5e8a4ea0ac7d328842243561e848fa75c9c0944dd94f374"),
    Preset("vdsr_realsr_x4", "sr", 4, "the 40 real pairs + 94 clean photos degraded by dml_realsr_x4 (noise 5)",
           "photos of the RealSR cameras, judged by PSNR (dml demo uses it)",
           {"psnr": 29.32, "ssim": 0.7881, "lpips": 0.378}, "table2/real_syndml_5000.keras",
           "9253d103ecafc1a9ba1c0a18519194db2035166682779fce95b5937c9e77e8d1"),
    Preset("vdsr_realsr_x4_lpips", "sr", 4, "94 clean photos degraded by dml_realsr_x4, noise sigma 0-5",
           "photos of the RealSR cameras, judged by LPIPS", {"psnr": 28.94, "ssim": 0.7807, "lpips": 0.343},
           "table2/syndml_noise0to5_5000.keras",
           "e12d1e41815e5c884e91ff0a410a2b7653216cd601ab209f64690a3f8f2e7251"),
    Preset("vdsr_bicubic_x4", "sr", 4, "the 94 clean photos with bicubic LR",
           "the baseline the others are measured against (dml demo shows it)",
           {"psnr": 28.26, "ssim": 0.7705, "lpips": 0.398}, "table2/bicubic_5000.keras",
           "52047b1c693f65c01cb1c335432aa6e0fb08859606d5d497f42b0ae00dfda7ff"),
    Preset("rrdb_realsr_x4_gan", "sr", 4, "Real-ESRGAN's recipe (RRDB 6x32, L1 then GAN) on Syn-DML pairs",
           "sharper RGB output for photos of the RealSR cameras", {"psnr": 26.91, "ssim": 0.765, "lpips": 0.388},
           "perceptual/syndml_gan.keras", "1316116825ab0d18543264cb847a6f335786358c375af9d3e894310b8214494b"),
    Preset("rrdb_web_x4_gan", "sr", 4, "Real-ESRGAN's recipe on DML's blur + hand-crafted noise and JPEG",
           "noisy or JPEG-compressed photos from anywhere (no worm texture)",
           {"psnr": 25.74, "ssim": 0.743, "lpips": 0.487}, "perceptual/blur_handcrafted_gan.keras",
           "ccbc9a3ba6f81d854fdaab52d7ac1cb714d8182068918c215180cbc0e8bb1eb5"),
)}


def preset_file(name):
    """The checked file of preset `name`.

    Raises:
        DataError: the file is missing from the installation or its content is not what was shipped.
    """
    preset = PRESETS[name]
    if not preset.path.is_file():
        raise DataError(f"Preset '{name}': its file '{preset.path}' is missing from this installation. "
                        "Reinstall dml-keras (pip install --force-reinstall dml-keras).")
    digest = hashlib.sha256(preset.path.read_bytes()).hexdigest()
    if digest != preset.sha256:
        raise DataError(f"Preset '{name}': '{preset.path}' is not the shipped file (SHA-256 {digest[:12]}…, expected "
                        f"{preset.sha256[:12]}…). Reinstall dml-keras, or load your own file by its path.")
    return preset.path


def format_presets():
    """The presets as a text table (`dml presets`)."""
    lines = ["name                  kind         held-out scores (RealSR x4)       use"]
    for preset in PRESETS.values():
        if preset.family == "degradation":
            scores = f"generated LR {preset.scores['lr_psnr']:.2f} dB"
        else:
            scores = f"{preset.scores['psnr']:.2f} dB / {preset.scores['ssim']:.3f} / LPIPS {preset.scores['lpips']:.3f}"
        lines.append(f"{preset.name:<21} {preset.family + ' x' + str(preset.scale):<12} {scores:<33} {preset.use}")
    lines.append("Load one by name: dml upscale vdsr_realsr_x4 photos/ --out up/; "
                 "dml_keras.load_model('dml_realsr_x4') in Python.")
    return "\n".join(lines)
