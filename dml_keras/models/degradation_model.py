"""`DegradationModel`: DML — spatially variant blur in a learned basis (the paper's model)."""

import math

import keras
from keras import ops

from dml_keras.layers.spatially_variant_filter import SpatiallyVariantFilter
from dml_keras.layers.weight_predictor import WeightPredictor
from dml_keras.models.degradation_base import DegradationBase


@keras.saving.register_keras_serializable(package="dml_keras")
class DegradationModel(DegradationBase):
    """HR in, generated LR out: `LR(i,j) = <HR window at (i,j), Σ_m C_ij(m) φ_m>`, `C = F(Y(HR))`.

    Args:
        num_basis: M basis kernels (paper: 8).
        kernel_size: K (paper: 15).
        scale: SR factor; with `lr_size="native"` the filter has stride `scale`.
        channels: `"y"` (train on Y, the paper) or `"rgb"`; weights are always
            predicted from Y and the kernel is applied to each channel.
        lr_size: `"same"` (the paper) or `"native"`.
        filters: width of the weight predictor (32).
        basis_initializer: `"uniform"` (paper) or `"gaussian"`.
        weight_init: `"uniform_mix"` starts every pixel's weights at `1/M`, so the
            initial kernel is the mean of the basis and sums to 1 (each basis
            kernel sums to 1); `"half"` starts them at sigmoid(0) = 0.5 like the
            authors' code, i.e. a kernel summing to `M/2` that first has to
            unlearn a `M/2`× brightness gain.
        basis_constraint: `None` (paper) or `"simplex"`.
        seed: seed of the basis initialisation.
        tone_offset: also predict a bounded per-pixel additive offset
            (`±max_offset`) from the same network, for the exposure/tone
            shifts between real HR and LR shots that no blur can express
            (not in the paper). The kernels stay a pure blur basis.
        max_offset: bound of that offset, in `[0, 1]` image units.
        unit_sum_kernels: make every per-pixel kernel sum to exactly 1 —
            softmax mixing weights over a basis of unit-sum kernels
            (`basis_constraint="simplex"` is implied). The kernel is then a
            pure blur; brightness changes go to the tone offset alone.

    Example:
    >>> import numpy as np, keras
    >>> model = DegradationModel(num_basis=4, kernel_size=7, seed=0)
    >>> model.compile(optimizer=keras.optimizers.Adam(1e-4))
    >>> hr = np.random.default_rng(0).random((2, 32, 32, 1)).astype("float32")
    >>> tuple(model(hr).shape)
    (2, 32, 32, 1)
    """

    def __init__(
        self,
        num_basis=8,
        kernel_size=15,
        scale=4,
        channels="y",
        lr_size="same",
        filters=32,
        basis_initializer="uniform",
        basis_constraint=None,
        seed=None,
        tone_offset=False,
        max_offset=0.1,
        weight_init="uniform_mix",
        unit_sum_kernels=False,
        **kwargs,
    ):
        super().__init__(scale=scale, kernel_size=kernel_size, channels=channels, lr_size=lr_size, **kwargs)
        self.num_basis = num_basis
        self.filters = filters
        self.basis_initializer = basis_initializer
        self.unit_sum_kernels = unit_sum_kernels
        self.basis_constraint = "simplex" if unit_sum_kernels else basis_constraint
        self.seed = seed
        self.tone_offset = tone_offset
        self.max_offset = max_offset
        if weight_init not in ("uniform_mix", "half"):
            raise ValueError(f"weight_init must be 'uniform_mix' or 'half'. Received: weight_init={weight_init!r}")
        self.weight_init = weight_init
        bias = math.log(1.0 / (num_basis - 1)) if weight_init == "uniform_mix" and num_basis > 1 else 0.0
        self.predictor = WeightPredictor(
            num_basis + int(tone_offset), filters=filters, activation=None, output_bias=bias, name="weight_predictor"
        )
        self.filter = SpatiallyVariantFilter(
            num_basis, kernel_size, basis_initializer, self.basis_constraint, stride=self.stride, seed=seed, name="filter"
        )

    def build(self, input_shape):
        self.predictor.build(tuple(input_shape[:3]) + (1,))
        self.filter.build([input_shape, tuple(input_shape[:3]) + (self.num_basis,)])
        self.built = True

    def _predict(self, guide):
        outputs = self.predictor(guide)
        return outputs[:, :: self.stride, :: self.stride, :] if self.stride > 1 else outputs

    def _weights(self, outputs):
        logits = outputs[..., : self.num_basis]
        return ops.softmax(logits, axis=-1) if self.unit_sum_kernels else ops.sigmoid(logits)

    def predict_weights(self, guide):
        """Per-pixel mixing weights `(B, h, w, M)` in `(0, 1)` on the output grid, from Y `(B, H, W, 1)`."""
        return self._weights(self._predict(guide))

    def generate(self, images, guide):
        outputs = self._predict(guide)
        degraded = self.filter([images, self._weights(outputs)])
        if self.tone_offset:
            degraded = degraded + self.max_offset * ops.tanh(outputs[..., self.num_basis :])
        return degraded

    @property
    def basis_kernels(self):
        """The basis kernels `(K, K, M)` as a tensor."""
        return self.filter.basis.kernels

    def get_config(self):
        config = super().get_config()
        config.update(
            num_basis=self.num_basis,
            filters=self.filters,
            basis_initializer=self.basis_initializer,
            basis_constraint=self.basis_constraint,
            seed=self.seed,
            tone_offset=self.tone_offset,
            max_offset=self.max_offset,
            weight_init=self.weight_init,
            unit_sum_kernels=self.unit_sum_kernels,
        )
        return config
