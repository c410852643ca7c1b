"""Image-quality metrics with the SR literature's conventions: PSNR, SSIM, LPIPS."""

from dml_keras.metrics.image_quality import PSNR, SSIM, color_error, psnr, ssim
from dml_keras.metrics.lpips import lpips

__all__ = ["psnr", "ssim", "lpips", "color_error", "PSNR", "SSIM"]
