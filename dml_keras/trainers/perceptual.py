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

It trains under TensorFlow and under JAX (a stateless step: TensorFlow need
not be installed). Under JAX both networks' gradients come from one pass
over the same pre-update state, as the TensorFlow step computes them, and
one optimizer applies them (the two must have the same settings, as
Real-ESRGAN's do): Adam's update is per weight, so that is the same update.
The discriminator's losses for the generator see spectrally normalized
kernels on both backends; under JAX they are normalized afresh in the step
(Keras's `SpectralNormalization` rewrites its kernel only outside JAX's
stateless calls).
"""

import keras
from keras import ops

from dml_keras.errors import SetupError
from dml_keras.losses import PerceptualLoss, gan_loss
from dml_keras.ops.filtering import unsharp_mask



def _settings(optimizer):
    """An optimizer's settings, without its name."""
    return {k: v for k, v in optimizer.get_config().items() if k != "name"}


def _stateless_call(network, trainable, non_trainable, images, training):
    """`network.stateless_call`, passing `training` only to a network whose `call` takes it."""
    import inspect

    takes_training = "training" in inspect.signature(network.call).parameters
    return network.stateless_call(trainable, non_trainable, images, **({"training": training} if takes_training else {}))


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
        ema_decay: the EMA's decay per step (0 keeps the generator's own weights). The EMA starts from the
            generator's weights as given (a published network, when fine-tuning).
        d_warmup: the first `d_warmup` steps train the discriminator alone: the generator and its EMA stay
            exactly as they are (a fresh discriminator first learns to judge a pretrained generator).
        color_weight: weight of an L1 term between 8×8 averages of output and (unsharpened) ground truth,
            which holds the colours in place (Real-ESRGAN fine-tunes are reported to drift in colour).
    """

    def __init__(self, generator, discriminator=None, sample=None, pixel_weight=1.0, perceptual_weight=0.0,
                 gan_weight=0.0, sharpen=True, ema_decay=0.999, d_warmup=0, color_weight=0.0, **kwargs):
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
        if d_warmup and discriminator is None:
            raise SetupError("a discriminator warm-up (--d-warmup) needs the GAN stage (--loss gan)")
        self.d_warmup, self.color_weight = int(d_warmup), float(color_weight)
        self.perceptual = PerceptualLoss() if perceptual_weight else None
        names = ["loss", "l_pix"] + (["l_percep"] if perceptual_weight else []) + (["l_color"] if color_weight else [])
        if discriminator is not None:
            names += ["l_g_gan", "l_d_real", "l_d_fake", "out_d_real", "out_d_fake"]
        self.trackers = {name: keras.metrics.Mean(name=name) for name in names}
        self.scale = generator.scale

    def compile(self, optimizer, d_optimizer=None, metrics=(), **kwargs):
        """`optimizer` trains the generator, `d_optimizer` the discriminator; `metrics` score the EMA generator.

        Under JAX, `optimizer` trains both (`d_optimizer` must have its settings)."""
        super().compile(optimizer=optimizer, **kwargs)
        self.d_optimizer = d_optimizer
        if self.discriminator is not None and d_optimizer is None:
            raise SetupError("a discriminator needs its own optimizer (d_optimizer)")
        if keras.backend.backend() == "jax":
            if d_optimizer is not None and _settings(d_optimizer) != _settings(optimizer):
                raise SetupError("under JAX one optimizer trains the generator and the discriminator: give both "
                                 f"the same settings (generator {_settings(optimizer)}, "
                                 f"discriminator {_settings(d_optimizer)})")
            optimizer.build(self.trainable_variables)  # the generator's, then the discriminator's
        else:
            # built on its own network's variables now: Keras would build it on all of the trainer's at a resume
            optimizer.build(self.generator.trainable_variables)
            if d_optimizer is not None:
                d_optimizer.build(self.discriminator.trainable_variables)  # before a backup is restored into it
        self.scores = list(metrics)

    @property
    def metrics(self):
        return list(self.trackers.values()) + list(getattr(self, "scores", []))

    def call(self, images, training=False):
        return self.ema_generator(images, training=False)

    def _results(self, names):
        return {name: self.trackers[name].result() for name in names}

    def train_step(self, *args):
        backend = keras.backend.backend()
        if backend == "jax":
            return self._stateless_train_step(*args)
        if backend != "tensorflow":
            raise SetupError(f"the perceptual/GAN trainer runs under TensorFlow or JAX, not {backend}")
        return self._tensorflow_train_step(*args)

    def _tensorflow_train_step(self, data):
        import tensorflow as tf

        lr, hr = data[0], data[1]
        target = unsharp_mask(hr) if self.sharpen else hr
        values = {}
        gate = self._generator_gate(self.d_optimizer.iterations if self.discriminator is not None else None)
        with tf.GradientTape() as tape:
            sr = self.generator(lr, training=True)
            values.update(self._generator_losses(sr, target, hr))
            if self.discriminator is not None:
                values["l_g_gan"] = self.gan_weight * gan_loss(self.discriminator(sr, training=False), real=True)
            loss = sum(values.values())
            gated = gate * loss
        variables = self.generator.trainable_variables
        self.optimizer.apply(tape.gradient(gated, variables), variables)
        values["loss"] = loss
        if self.discriminator is not None:
            values.update(self.discriminator_step(hr, ops.stop_gradient(sr)))
        decay = 1.0 - (1.0 - self.ema_decay) * gate
        for average, weight in zip(self.ema_generator.weights, self.generator.weights):
            # written as a step towards the weight: a weight that stays (frozen, or in the warm-up) keeps its average
            average.assign(average + (1.0 - decay) * (weight - average))
        for name, value in values.items():
            self.trackers[name].update_state(value)
        return self._results(values)

    def _generator_gate(self, step):
        """1 once the discriminator's warm-up is over, else 0 (multiplies the generator's loss and its EMA's move:
        with zero gradients Adam moves nothing, so the generator stays bit for bit)."""
        if not self.d_warmup or step is None:
            return 1.0
        return ops.cast(ops.greater_equal(step, self.d_warmup), "float32")

    def _generator_losses(self, sr, target, hr):
        """The generator's losses but the GAN term: L1 and VGG against `target`, colour against `hr`."""
        sr = ops.cast(sr, "float32")  # a mixed_bfloat16 generator computes in bfloat16; the losses in float32
        values = {"l_pix": self.pixel_weight * ops.mean(ops.abs(sr - target))}
        if self.perceptual is not None:
            values["l_percep"] = self.perceptual_weight * self.perceptual(sr, target)
        if self.color_weight:
            def low(x):
                return ops.average_pool(x, 8, 8, padding="valid")

            values["l_color"] = self.color_weight * ops.mean(ops.abs(low(sr) - low(hr)))
        return values

    def discriminator_step(self, real, fake):
        """One update of the discriminator on a batch of `real` HR and `fake` SR images (one call on both,
        so spectral normalization runs one power iteration); returns its loss terms and mean logits."""
        import tensorflow as tf

        count = ops.shape(real)[0]
        with tf.GradientTape() as tape:
            logits = self.discriminator(ops.concatenate([real, ops.cast(fake, real.dtype)], axis=0), training=True)
            real_logits, fake_logits = logits[:count], logits[count:]
            values = {"l_d_real": gan_loss(real_logits, real=True), "l_d_fake": gan_loss(fake_logits, real=False)}
            loss = values["l_d_real"] + values["l_d_fake"]
        variables = self.discriminator.trainable_variables
        self.d_optimizer.apply(tape.gradient(loss, variables), variables)
        return dict(values, out_d_real=ops.mean(real_logits), out_d_fake=ops.mean(fake_logits))

    def test_step(self, *args):
        if keras.backend.backend() == "jax":
            return self._stateless_test_step(*args)
        data = args[0]
        lr, hr = data[0], data[1]
        sr = self.ema_generator(lr, training=False)
        for metric in self.scores:
            metric.update_state(hr, sr)
        return {metric.name: metric.result() for metric in self.scores}

    # JAX: Keras hands the step the state as values and takes the new values back

    def _values(self, variables, values, of):
        """The values in `values` (listed as `variables`) of the variables `of`, in the order of `of`."""
        where = {id(v): i for i, v in enumerate(variables)}
        return [values[where[id(v)]] for v in of]

    def _stateless_train_step(self, state, data):
        import jax

        trainable, non_trainable, optimizer_values, metric_values = state
        lr, hr = data[0], data[1]
        target = unsharp_mask(hr) if self.sharpen else hr
        generator, discriminator = self.generator, self.discriminator
        step = optimizer_values[[id(v) for v in self.optimizer.variables].index(id(self.optimizer.iterations))]
        gate = self._generator_gate(step if discriminator is not None else None)

        def parts(network, trainable_values, non_trainable_values):
            return (self._values(self.trainable_variables, trainable_values, network.trainable_variables),
                    self._values(self.non_trainable_variables, non_trainable_values, network.non_trainable_variables))

        def losses(trainable_values):
            values = {}
            sr, g_state = _stateless_call(generator, *parts(generator, trainable_values, non_trainable), lr, True)
            values.update(self._generator_losses(sr, target, hr))
            d_state = None
            if discriminator is not None:
                d_trainable, d_non_trainable = parts(discriminator, trainable_values, non_trainable)
                frozen = [jax.lax.stop_gradient(w) for w in d_trainable]
                # normalized kernels (training=True), the power iteration's update discarded
                judged, _ = _stateless_call(discriminator, frozen, d_non_trainable, sr, True)
                values["l_g_gan"] = self.gan_weight * gan_loss(judged, real=True)
            g_loss = sum(values.values())
            total = gate * g_loss
            if discriminator is not None:
                count = ops.shape(hr)[0]
                both = ops.concatenate([hr, ops.cast(ops.stop_gradient(sr), hr.dtype)], axis=0)
                logits, d_state = _stateless_call(discriminator, d_trainable, d_non_trainable, both, True)
                real_logits, fake_logits = logits[:count], logits[count:]
                values.update(l_d_real=gan_loss(real_logits, real=True), l_d_fake=gan_loss(fake_logits, real=False),
                              out_d_real=ops.mean(real_logits), out_d_fake=ops.mean(fake_logits))
                total = total + values["l_d_real"] + values["l_d_fake"]
            values["loss"] = g_loss
            return total, (values, g_state, d_state)

        (_, (values, g_state, d_state)), grads = jax.value_and_grad(losses, has_aux=True)(trainable)
        trainable, optimizer_values = self.optimizer.stateless_apply(optimizer_values, grads, trainable)
        # the networks' own state (spectral normalization's vectors), then the average of the updated generator
        non_trainable = list(non_trainable)
        where = {id(v): i for i, v in enumerate(self.non_trainable_variables)}
        for network, new in ((generator, g_state), (discriminator, d_state)):
            for variable, value in zip(network.non_trainable_variables if new is not None else (), new or ()):
                non_trainable[where[id(variable)]] = value
        current = dict(zip(map(id, self.trainable_variables), trainable))
        current.update({id(v): non_trainable[where[id(v)]] for v in generator.non_trainable_variables})
        decay = 1.0 - (1.0 - self.ema_decay) * gate
        for average, weight in zip(self.ema_generator.weights, generator.weights):
            index = where[id(average)]
            non_trainable[index] = non_trainable[index] + (1.0 - decay) * (current[id(weight)] - non_trainable[index])
        logs, metric_values = self._stateless_metrics(metric_values, values)
        return logs, (trainable, non_trainable, optimizer_values, metric_values)

    def _stateless_metrics(self, metric_values, values, hr=None, sr=None):
        """Update the trackers with `values` (and the scores with `hr`, `sr`, when given) from `metric_values`."""
        metric_values = list(metric_values)
        start, logs = 0, {}
        for metric in self.metrics:
            count = len(metric.variables)
            own = metric_values[start : start + count]
            if metric.name in values:
                own = metric.stateless_update_state(own, values[metric.name])
            elif sr is not None and metric in self.scores:
                own = metric.stateless_update_state(own, hr, sr)
            if metric.name in values or (sr is not None and metric in self.scores):
                logs[metric.name] = metric.stateless_result(own)
            metric_values[start : start + count] = own
            start += count
        return logs, metric_values

    def _stateless_test_step(self, state, data):
        trainable, non_trainable, metric_values = state
        lr, hr = data[0], data[1]
        average = self._values(self.non_trainable_variables, non_trainable, self.ema_generator.non_trainable_variables)
        sr, _ = _stateless_call(self.ema_generator, [], average, lr, False)
        logs, metric_values = self._stateless_metrics(metric_values, {}, hr, sr)
        return logs, (trainable, non_trainable, metric_values)
