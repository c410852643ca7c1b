"""`DirectNet`: the paper's baseline that maps HR to LR directly, as a residual on a blur of HR or on HR."""

import keras
from keras import ops

from dml_keras.layers.basis_kernels import starting_kernel
from dml_keras.layers.weight_predictor import WeightPredictor
from dml_keras.models.degradation_base import DegradationBase
from dml_keras.ops.filtering import basis_responses

RESIDUALS_ON = ("blur", "hr")


@keras.saving.register_keras_serializable(package="dml_keras")
class DirectNet(DegradationBase):
    """`LR = B(HR) + F(HR)`: the DML backbone ending in a linear conv to the image channels.

    A Y model given RGB runs on each channel separately. For native-size LR
    the output is sampled every `scale` pixels.

    Args:
        residual_on: what `F` corrects. `"blur"`: `B` is DML's starting blur
            (`starting_kernel`, fixed) and `F` starts at zero, so the model
            begins where DML does; `"hr"`: `B` is the identity and `F` starts
            at random (the paper's baseline). Files saved before this argument
            existed hold the paper's model and load as `"hr"`.
        filters: the network's width. Others: as `DegradationBase`.

    Example:
    >>> import numpy as np
    >>> tuple(DirectNet()(np.zeros((1, 16, 16, 1), "float32")).shape)
    (1, 16, 16, 1)
    """

    def __init__(self, scale=4, kernel_size=15, channels="y", lr_size="same", filters=32, residual_on="blur",
                 **kwargs):
        super().__init__(scale=scale, kernel_size=kernel_size, channels=channels, lr_size=lr_size, **kwargs)
        if residual_on not in RESIDUALS_ON:
            raise ValueError(f"residual_on must be one of {RESIDUALS_ON}. Received: residual_on={residual_on!r}")
        self.filters, self.residual_on = filters, residual_on
        self.image_channels = 1 if channels == "y" else 3
        start = {"output_kernel_initializer": "zeros"} if residual_on == "blur" else {}
        self.network = WeightPredictor(self.image_channels, filters=filters, activation=None, name="network", **start)
        self.blur = starting_kernel(kernel_size)[..., None] if residual_on == "blur" else None

    def build(self, input_shape):
        self.network.build(tuple(input_shape[:3]) + (self.image_channels,))
        self.built = True

    def generate(self, images, guide):
        base = images if self.blur is None else basis_responses(images, self.blur)[..., 0]
        shape = ops.shape(images)
        if images.shape[-1] != self.image_channels:  # Y model on RGB: one plane at a time
            planes = ops.reshape(ops.transpose(images, (0, 3, 1, 2)), (shape[0] * shape[3], shape[1], shape[2], 1))
            residual = ops.reshape(self.network(planes), (shape[0], shape[3], shape[1], shape[2]))
            residual = ops.transpose(residual, (0, 2, 3, 1))
        else:
            residual = self.network(images)
        out = base + residual
        return out[:, :: self.stride, :: self.stride, :] if self.stride > 1 else out

    def get_config(self):
        config = super().get_config()
        config.update(filters=self.filters, residual_on=self.residual_on)
        return config

    @classmethod
    def from_config(cls, config):
        return cls(**{"residual_on": "hr", **config})
