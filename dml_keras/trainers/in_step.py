"""Synthesis inside the training step: clean crops go to the device, the learned degradation runs in the step.

On a GPU the learned degradation (≈170 K FLOPs per HR pixel, more than a
small SR network) starves the accelerator when it runs in the input
pipeline on the CPU. With `InStepSynthesis` the pipeline only crops clean
photos and draws their noise (`data.synthetic_batches` with `in_step=True`);
the compiled step degrades the crops, adds the noise, rounds to 8 bits,
crops the margin away and trains the SR network on the result: the pairs
the pipeline would have made (tested to float rounding against `tf.data`).
"""

import keras

from dml_keras.data.synthetic_batches import finish_lr


class InStepSynthesis(keras.Model):
    """`network` trained on pairs that `degradation` (a Keras model, frozen) makes in the step.

    `call((hr_with_margin, noise))` synthesizes the LR and returns `network`'s output for it; `call(lr)` is
    `network(lr)` (validation on real pairs). Only `network` trains; it is what a run saves.
    """

    def __init__(self, network, degradation, margin, patch_size, quantize=True, **kwargs):
        super().__init__(**kwargs)
        from dml_keras.models import AtNativeSize

        # a same-size model taken to the capture size (`AtNativeSize`): its shrink is a fixed linear map, done here
        self.shrink = isinstance(degradation, AtNativeSize)
        learned = degradation.model if self.shrink else degradation
        if not isinstance(learned, keras.Model):
            from dml_keras.errors import SetupError

            raise SetupError(f"in-step synthesis runs a Keras degradation model in the step; {type(learned).__name__} "
                             "runs in NumPy: use --synthesis pipeline")
        self.network, self.degradation = network, learned
        self.degradation.trainable = False
        self.margin, self.patch_size, self.quantize = margin, patch_size, quantize
        self.stride = network.scale if degradation.lr_size == "native" else 1

    def synthesize(self, hr_with_margin, noise):
        """The LR crops of a batch of clean crops with their margin, as the input pipeline makes them."""
        degraded = self.degradation(hr_with_margin, training=False)
        if self.shrink:  # `shrink_enlarged` on each side: the least-squares inverse of MATLAB's enlargement
            from dml_keras.ops.resize import _shrink_matrix

            side = hr_with_margin.shape[1]
            matrix = keras.ops.convert_to_tensor(_shrink_matrix(side, self.network.scale).astype("float32"))
            degraded = keras.ops.einsum("ih,bhwc->biwc", matrix, degraded)
            degraded = keras.ops.einsum("jw,biwc->bijc", matrix, degraded)
        return finish_lr(degraded, noise, self.margin, self.patch_size, self.stride, self.quantize,
                         self.network.channels)

    def call(self, inputs, training=False):
        if isinstance(inputs, (tuple, list)):
            inputs = self.synthesize(*inputs)
        return self.network(inputs, training=training)
