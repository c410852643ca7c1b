"""Real-ESRGAN's training recipe for any SR generator: an L1 stage, then L1 + perceptual + GAN.

`PerceptualTrainer` is a Keras `Model` that holds the generator, an
exponential moving average (EMA) of it, and optionally a discriminator,
each updated by its own optimizer in one custom `train_step`:

- the ground truth is sharpened with `unsharp_mask` for the L1 and
  perceptual losses (not for the GAN loss), as Real-ESRGAN does;
- the generator's loss is `pixel_weight · L1 + perceptual_weight · VGG +
  gan_weight · BCE(D(SR), real)`;
- the discriminator's is `BCE(D(HR), real) + BCE(D(SR), fake)`;
- after both updates the EMA generator moves towards the generator
  (`ema_decay`, 0.999). Validation, the TensorBoard images and the saved
  `model.keras` are the EMA generator, as Real-ESRGAN ships `params_ema`.

Everything it holds (all three networks, both optimizers) is in its
weights, so `BackupAndRestore` resumes a stopped run exactly.
"""

import keras
from keras import ops

from dml_keras.errors import SetupError
from dml_keras.losses import PerceptualLoss, gan_loss
from dml_keras.ops.filtering import unsharp_mask

# Real-ESRGAN's published settings per stage (RealESRNet x4plus, then RealESRGAN x4plus)
STAGES = {
    "l1": dict(pixel_weight=1.0, perceptual_weight=0.0, gan_weight=0.0, learning_rate=2e-4),
    "gan": dict(pixel_weight=1.0, perceptual_weight=1.0, gan_weight=0.1, learning_rate=1e-4),
}
ADAM_BETAS = (0.9, 0.99)


def clone_network(network, sample):
    """A new network of `network`'s class and config, built on `sample`, holding a copy of its weights."""
    copy = type(network).from_config(network.get_config())
    copy(sample)
    copy.set_weights(network.get_weights())
    return copy


class PerceptualTrainer(keras.Model):
    """Trains `generator` (and `discriminator`, when given) with Real-ESRGAN's losses; `call` runs the EMA generator.

    Args:
        generator: an SR network (any `SuperResolutionBase`), built.
        discriminator: `UNetDiscriminator` or `None` (no GAN loss, e.g. the L1 stage).
        sample: an input batch, to build the EMA copy.
        pixel_weight, perceptual_weight, gan_weight: the generator's loss weights.
        sharpen: compare against the unsharp-masked ground truth for L1 and perceptual losses.
        ema_decay: the EMA's decay per step (0 keeps the generator's own weights).
    """

    def __init__(self, generator, discriminator=None, sample=None, pixel_weight=1.0, perceptual_weight=0.0,
                 gan_weight=0.0, sharpen=True, ema_decay=0.999, **kwargs):
        super().__init__(**kwargs)
        if gan_weight and discriminator is None:
            raise SetupError("a GAN loss (gan_weight > 0) needs a discriminator")
        if perceptual_weight and generator.channels != "rgb":
            raise SetupError("the perceptual loss compares RGB features: train the generator with channels 'rgb' "
                             "(--channels rgb)")
        self.generator, self.discriminator = generator, discriminator
        self.ema_generator = clone_network(generator, sample)
        self.ema_generator.trainable = False
        self.pixel_weight, self.perceptual_weight, self.gan_weight = pixel_weight, perceptual_weight, gan_weight
        self.sharpen, self.ema_decay = sharpen, ema_decay
        self.perceptual = PerceptualLoss() if perceptual_weight else None
        names = ["loss", "l_pix"] + (["l_percep"] if perceptual_weight else [])
        if discriminator is not None:
            names += ["l_g_gan", "l_d_real", "l_d_fake", "out_d_real", "out_d_fake"]
        self.trackers = {name: keras.metrics.Mean(name=name) for name in names}
        self.scale = generator.scale

    def compile(self, optimizer, d_optimizer=None, metrics=(), **kwargs):
        """`optimizer` trains the generator, `d_optimizer` the discriminator; `metrics` score the EMA generator."""
        super().compile(optimizer=optimizer, **kwargs)
        # built on its own network's variables now: Keras would build it on all of the trainer's at a resume
        optimizer.build(self.generator.trainable_variables)
        self.d_optimizer = d_optimizer
        if self.discriminator is not None:
            if d_optimizer is None:
                raise SetupError("a discriminator needs its own optimizer (d_optimizer)")
            d_optimizer.build(self.discriminator.trainable_variables)  # before a backup is restored into it
        self.scores = list(metrics)

    @property
    def metrics(self):
        return list(self.trackers.values()) + list(getattr(self, "scores", []))

    def call(self, images, training=False):
        return self.ema_generator(images, training=False)

    def _results(self, names):
        return {name: self.trackers[name].result() for name in names}

    def train_step(self, data):
        import tensorflow as tf

        if keras.backend.backend() != "tensorflow":
            raise SetupError("the perceptual/GAN trainer runs on the TensorFlow backend")
        lr, hr = data[0], data[1]
        target = unsharp_mask(hr) if self.sharpen else hr
        values = {}
        with tf.GradientTape() as tape:
            sr = self.generator(lr, training=True)
            values["l_pix"] = self.pixel_weight * ops.mean(ops.abs(sr - target))
            if self.perceptual is not None:
                values["l_percep"] = self.perceptual_weight * self.perceptual(sr, target)
            if self.discriminator is not None:
                values["l_g_gan"] = self.gan_weight * gan_loss(self.discriminator(sr, training=False), real=True)
            loss = sum(values.values())
        variables = self.generator.trainable_variables
        self.optimizer.apply(tape.gradient(loss, variables), variables)
        values["loss"] = loss
        if self.discriminator is not None:
            values.update(self.discriminator_step(hr, ops.stop_gradient(sr)))
        decay = self.ema_decay
        for average, weight in zip(self.ema_generator.weights, self.generator.weights):
            average.assign(decay * average + (1.0 - decay) * weight)
        for name, value in values.items():
            self.trackers[name].update_state(value)
        return self._results(values)

    def discriminator_step(self, real, fake):
        """One update of the discriminator on a batch of `real` HR and `fake` SR images (one call on both,
        so spectral normalization runs one power iteration); returns its loss terms and mean logits."""
        import tensorflow as tf

        count = ops.shape(real)[0]
        with tf.GradientTape() as tape:
            logits = self.discriminator(ops.concatenate([real, fake], axis=0), training=True)
            real_logits, fake_logits = logits[:count], logits[count:]
            values = {"l_d_real": gan_loss(real_logits, real=True), "l_d_fake": gan_loss(fake_logits, real=False)}
            loss = values["l_d_real"] + values["l_d_fake"]
        variables = self.discriminator.trainable_variables
        self.d_optimizer.apply(tape.gradient(loss, variables), variables)
        return dict(values, out_d_real=ops.mean(real_logits), out_d_fake=ops.mean(fake_logits))

    def test_step(self, data):
        lr, hr = data[0], data[1]
        sr = self.ema_generator(lr, training=False)
        for metric in self.scores:
            metric.update_state(hr, sr)
        return {metric.name: metric.result() for metric in self.scores}
