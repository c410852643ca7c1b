"""`WeightPredictor`: the small encoder-decoder that maps an image to per-pixel outputs."""

import keras
from keras import layers, ops


def upsample_bilinear_2x(x):
    """Bilinear ×2 upsampling of `(B, H, W, C)` with half-pixel centres (edges clamped).

    The same values as `tf.image.resize(x, 2 * size, "bilinear")`, written with
    shifts and a reshape so it works for dynamic sizes on every backend and
    exports to TFLite with builtin ops.
    """

    def along(x, axis):
        length = ops.shape(x)[axis]
        before = ops.concatenate([ops.take(x, [0], axis=axis), ops.take(x, ops.arange(0, length - 1), axis=axis)], axis=axis)
        after = ops.concatenate([ops.take(x, ops.arange(1, length), axis=axis), ops.take(x, [length - 1], axis=axis)], axis=axis)
        even, odd = 0.75 * x + 0.25 * before, 0.75 * x + 0.25 * after
        stacked = ops.stack([even, odd], axis=axis + 1)
        shape = ops.shape(x)
        new_shape = [shape[i] for i in range(4)]
        new_shape[axis] = 2 * shape[axis]
        return ops.reshape(stacked, new_shape)

    return along(along(x, 1), 2)


@keras.saving.register_keras_serializable(package="dml_keras")
class WeightPredictor(keras.layers.Layer):
    """The authors' weight CNN, shared by DML and its baselines.

    conv3×3 → 3×(ReLU, conv3×3) → 2×2 max-pool → 3×(ReLU, conv3×3) → bilinear ×2
    → concat with the pre-pool features → 3×(conv3×3, ReLU) → conv
    `output_kernel_size` to `num_outputs` → `activation`. 32 channels, biases,
    no normalisation. Any input size: odd sizes are reflect-padded to even and
    cropped back.

    Args:
        num_outputs: output channels (M for DML, 1 for DirectNet, K² for DirectKPN).
        filters: width of every hidden layer (32 in the paper).
        output_kernel_size: size of the last convolution (7).
        activation: `"sigmoid"` (DML's weights) or `None` (linear outputs).
        output_bias: initial bias of the last convolution, one number or one
            per output (e.g. `logit(1/M)` so DML's sigmoid weights start at
            `1/M`; a starting kernel for DirectKPN).
        output_kernel_initializer: initial weights of the last convolution
            (`"zeros"` with `output_bias` makes every output start at it).

    Example:
    >>> import numpy as np
    >>> tuple(WeightPredictor(num_outputs=8)(np.zeros((1, 33, 20, 1), "float32")).shape)
    (1, 33, 20, 8)
    """

    def __init__(self, num_outputs=8, filters=32, output_kernel_size=7, activation="sigmoid", output_bias=0.0,
                 output_kernel_initializer="glorot_uniform", **kwargs):
        super().__init__(**kwargs)
        self.num_outputs = num_outputs
        self.filters = filters
        self.output_kernel_size = output_kernel_size
        self.activation = activation
        self.output_bias = output_bias
        self.output_kernel_initializer = output_kernel_initializer

        def conv(name, size=3, **conv_kwargs):
            return layers.Conv2D(filters, size, padding="same", name=name, **conv_kwargs)

        self.head = conv("head")
        self.encoder = [conv(f"encoder_{i}") for i in range(3)]
        self.bottom = [conv(f"bottom_{i}") for i in range(3)]
        self.decoder = [conv(f"decoder_{i}", activation="relu") for i in range(3)]
        self.output_conv = layers.Conv2D(
            num_outputs, output_kernel_size, padding="same", name="output", activation=activation,
            kernel_initializer=output_kernel_initializer, bias_initializer=keras.initializers.Constant(output_bias),
        )

    def build(self, input_shape):
        channels = input_shape[-1]
        self.head.build((None, None, None, channels))
        for layer in self.encoder + self.bottom:
            layer.build((None, None, None, self.filters))
        self.decoder[0].build((None, None, None, 2 * self.filters))
        for layer in self.decoder[1:]:
            layer.build((None, None, None, self.filters))
        self.output_conv.build((None, None, None, self.filters))

    def call(self, images):
        height, width = ops.shape(images)[1], ops.shape(images)[2]
        # Reflect-pad odd sizes to even: pad by a static 1 and cut back, so shapes stay
        # static where they can (TFLite needs the channel count of every convolution).
        x = ops.pad(images, ((0, 0), (0, 1), (0, 1), (0, 0)), mode="reflect")
        x = x[:, : height + height % 2, : width + width % 2, :]
        x = self.head(x)
        for layer in self.encoder:
            x = layer(ops.relu(x))
        skip = x
        x = ops.max_pool(x, pool_size=2, strides=2, padding="valid")
        for layer in self.bottom:
            x = layer(ops.relu(x))
        x = upsample_bilinear_2x(x)
        x = ops.concatenate([x, skip], axis=-1)
        for layer in self.decoder:
            x = layer(x)
        return self.output_conv(x)[:, :height, :width, :]

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:3]) + (self.num_outputs,)

    def get_config(self):
        config = super().get_config()
        config.update(
            num_outputs=self.num_outputs,
            filters=self.filters,
            output_kernel_size=self.output_kernel_size,
            activation=self.activation,
            output_bias=self.output_bias,
            output_kernel_initializer=self.output_kernel_initializer,
        )
        return config
