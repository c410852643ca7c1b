"""Keras callbacks shared by the training commands."""

import os

import keras
import numpy as np


def averaging_optimizer(optimizer):
    """The optimizer that keeps a moving average of the weights (`averaging_adam`), or `None`.

    Looks through loss scaling's wrapper (mixed float16).
    """
    optimizer = getattr(optimizer, "inner_optimizer", optimizer)
    return optimizer if getattr(optimizer, "use_ema", False) else None


class ImageSummaries(keras.callbacks.Callback):
    """TensorBoard images at each epoch end: input | model output | target, side by side.

    Degradation training shows HR | generated LR | real LR and the basis
    kernels; SR training shows LR | SR | HR. Smaller images (native-size LR)
    are enlarged by pixel repetition to the largest one's size.

    Args:
        log_dir: the TensorBoard log folder; images go to `log_dir/images`.
        inputs, targets: one example each, `(1, H, W, C)` NumPy arrays.
        tag: the image's name in TensorBoard.
    """

    def __init__(self, log_dir, inputs, targets, tag):
        super().__init__()
        self.log_dir = log_dir
        self.inputs, self.targets, self.tag = inputs, targets, tag
        self.writer = None

    def on_epoch_end(self, epoch, logs=None):
        import tensorflow as tf

        if self.writer is None:
            self.writer = tf.summary.create_file_writer(os.path.join(self.log_dir, "images"))
        output = keras.ops.convert_to_numpy(self.model(self.inputs, training=False))
        panels = [np.clip(p[0], 0.0, 1.0) for p in (self.inputs, output, self.targets)]
        height = max(p.shape[0] for p in panels)
        panels = [np.repeat(np.repeat(p, height // p.shape[0], 0), height // p.shape[0], 1) for p in panels]
        with self.writer.as_default(step=epoch):
            pixels = np.round(np.concatenate(panels, axis=1) * 255.0).astype(np.uint8)  # rounded, not truncated
            tf.summary.image(self.tag, pixels[None], max_outputs=1)
            basis = getattr(self.model, "basis_kernels", None)
            if basis is not None:
                from dml_keras.visualization import kernel_grid

                tf.summary.image("basis_kernels", kernel_grid(keras.ops.convert_to_numpy(basis))[None, ..., None])
        self.writer.flush()

    def on_train_end(self, logs=None):
        if self.writer is not None:
            self.writer.close()


class SaveNetwork(keras.callbacks.Callback):
    """Save `network_of(model)` to `path` (`.keras`) at each epoch end: the part of a trainer that is the result."""

    def __init__(self, path, network_of, keep=False):
        super().__init__()
        self.path, self.network_of, self.keep = path, network_of, keep

    def on_epoch_end(self, epoch, logs=None):
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        save_atomically(self.network_of(self.model).save, self.path, ".keras")
        if self.keep:  # also as step-N.keras, to score the run along its course
            import shutil

            steps = (epoch + 1) * self.params["steps"]
            shutil.copyfile(self.path, os.path.join(os.path.dirname(self.path), f"step-{steps:06d}.keras"))


def save_atomically(save, path, suffix):
    """`save(temporary path ending in suffix)`, then rename it to `path`: a kill never leaves half a file there."""
    import uuid

    temporary = os.path.join(os.path.dirname(path) or ".", f".{uuid.uuid4().hex}.tmp{suffix}")
    try:
        save(temporary)
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.remove(temporary)
        raise


class Backup(keras.callbacks.BackupAndRestore):
    """`BackupAndRestore` whose weights and epoch are one unit, and whose damaged backup is one line saying how to
    start over instead of a traceback.

    Each backup writes its weights to a file of their own (`epochs-000004.weights.h5`: after 4 epochs), then
    renames into place the record `training_metadata.json` that names that file and its epoch, then removes
    the older weights. The rename of the record is the one moment the backup changes: a kill at any other
    moment leaves the last record and the weights it names, so a resumed run never trains an epoch again from
    weights that already learned it.
    """

    def on_train_begin(self, logs=None):
        from dml_keras.errors import DataError

        try:
            super().on_train_begin(logs)
        except Exception as error:
            raise DataError(f"The run's backup '{self.backup_dir}' cannot be read ({type(error).__name__}). Delete that "
                            "folder to start the run over (history.csv and checkpoints/ stay).") from None

    def _load_model(self):
        import json

        if not os.path.exists(self._training_metadata_path):  # weights without a record were never committed
            return
        if not self.model.built:
            raise ValueError("The model must be built before it resumes from a backup.")
        with open(self._training_metadata_path) as handle:
            record = json.load(handle)
        # a backup written before the record named its weights has them as latest.weights.h5
        weights = os.path.join(self.backup_dir, record.get("weights", os.path.basename(self._weights_path)))
        if self.model.optimizer is not None and not self.model.optimizer.built:
            self.model.optimizer.build(self.model.trainable_variables)
        self.model.load_weights(weights)
        self.model._initial_epoch = record["epoch"]

    def _save_model(self):
        from dml_keras.data.files import write_json

        os.makedirs(self.backup_dir, exist_ok=True)
        name = f"epochs-{self._current_epoch:06d}.weights.h5"  # epochs done
        save_atomically(lambda path: self.model.save_weights(path, overwrite=True),
                        os.path.join(self.backup_dir, name), ".weights.h5")
        write_json(self._training_metadata_path,
                   {"epoch": self._current_epoch, "batch": self._last_batch_seen, "weights": name})
        for other in os.listdir(self.backup_dir):  # older weights, and any half-written by a kill
            if other.endswith(".weights.h5") and other != name:
                os.remove(os.path.join(self.backup_dir, other))

    def on_train_end(self, logs=None):
        # the record goes first: a kill while the folder is removed then leaves weights without a record (never
        # resumed from), not a record naming weights already removed
        if self.delete_checkpoint and os.path.exists(self._training_metadata_path):
            os.remove(self._training_metadata_path)
        super().on_train_end(logs)


class RestoreOnly(Backup):
    """Resume from the backup in `backup_dir` like `BackupAndRestore`, but never write or delete it.

    For the workers of a multi-worker run other than the first: all resume
    from the first worker's backup (on a filesystem they share), which only
    the first worker writes.
    """

    def on_epoch_end(self, epoch, logs=None):
        pass

    def on_train_batch_end(self, batch, logs=None):
        pass

    def on_train_end(self, logs=None):
        pass


class AloneOnThisProcess(keras.callbacks.Callback):
    """Runs `callback`'s hooks with this process's device alone (`distribute.one_device`).

    For what only the first worker of a multi-process JAX run does (checkpoints,
    the backup, logs): Keras creates variables while it saves, and under the
    run's distribution that would wait for the other processes, which do not save.
    """

    def __init__(self, callback):
        super().__init__()
        self.callback = callback

    def set_model(self, model):
        super().set_model(model)
        self.callback.set_model(model)

    def set_params(self, params):
        super().set_params(params)
        self.callback.set_params(params)


def _alone(hook):
    def run(self, *args, **kwargs):
        from dml_keras.distribute import one_device

        with one_device():
            return getattr(self.callback, hook)(*args, **kwargs)

    return run


for _hook in [name for name in vars(keras.callbacks.Callback) if name.startswith("on_")]:
    setattr(AloneOnThisProcess, _hook, _alone(_hook))


class OneDeviceValidation(keras.callbacks.Callback):
    """Add `val_*` logs at each epoch end, scored by a one-device copy of the model.

    For training on several replicas: Keras splits every validation batch over
    the replicas, and validation photos differ in size, so a batch holds one
    photo and all replicas but one get an empty batch, which the models cannot
    take. Here each worker scores the whole validation set on one device, so
    all workers see the same `val_*` logs as a one-device run (with weight
    averaging, of the averaged weights). Put it before the callbacks that
    read the logs.

    Args:
        copy: a compiled model like the trained one (or like `network_of(trained)`), built outside the strategy.
        data: the validation dataset.
        network_of: what of the trained model is scored (its trainable weights are the optimizer's).
    """

    def __init__(self, copy, data, network_of=None):
        super().__init__()
        self.copy, self.data, self.network_of = copy, data, network_of

    def on_epoch_end(self, epoch, logs=None):
        from dml_keras.distribute import one_device

        with one_device():  # also under a multi-process JAX run: this process's device alone
            scored = self.model if self.network_of is None else self.network_of(self.model)
            self.copy.set_weights(scored.get_weights())
            optimizer = averaging_optimizer(self.model.optimizer)
            if optimizer is not None:  # score the averaged weights, as one device does
                live = self.model.trainable_variables
                kept = [keras.ops.convert_to_numpy(variable) for variable in live]
                optimizer.finalize_variable_values(live)  # Keras's public route to the averages: into the model...
                averaged = [keras.ops.convert_to_numpy(variable) for variable in live]
                for variable, value in zip(live, kept):  # ...and the model's own weights back
                    variable.assign(value)
                for variable, value in zip(self.copy.trainable_weights, averaged):
                    variable.assign(value)
            scores = self.copy.evaluate(self.data, verbose=0, return_dict=True)
        if logs is not None:
            logs.update({f"val_{name}": value for name, value in scores.items()})


class CollapseGuard(keras.callbacks.Callback):
    """Stop a fine-tuning run whose validation PSNR falls `drop` dB below its best, and keep the best weights.

    Fine-tuning a published GAN generator on a small set of pairs is reported to collapse (grey or black
    outputs, erased texture). Each epoch's `val_psnr` is compared with the best so far: the weights of
    `network_of(model)` (what is saved) at the best epoch are kept, and put back when the run is stopped,
    so `model.keras` is never the collapsed network. Without validation data it does nothing.
    """

    def __init__(self, drop=2.0, network_of=None):
        super().__init__()
        self.drop, self.network_of = float(drop), network_of
        self.best, self.best_weights, self.stopped_epoch = None, None, None

    def _network(self):
        return self.network_of(self.model) if self.network_of is not None else self.model

    def on_epoch_end(self, epoch, logs=None):
        score = (logs or {}).get("val_psnr")
        if score is None:
            return
        score = float(score)
        if self.best is None or score > self.best:
            self.best, self.best_weights = score, [w.copy() for w in self._network().get_weights()]
        elif score < self.best - self.drop:
            print(f"warning: validation PSNR fell to {score:.2f} dB, {self.best - score:.2f} dB below its best "
                  f"({self.best:.2f} dB): training collapsed, so it stops here and keeps the best epoch's weights "
                  "(lower --learning-rate, or raise --color-weight)", flush=True)
            self._network().set_weights(self.best_weights)
            self.stopped_epoch = epoch
            self.model.stop_training = True
