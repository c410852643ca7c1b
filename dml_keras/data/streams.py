"""What the trainers feed `model.fit`, on any backend: `tf.data` under TensorFlow, a `PyDataset` elsewhere.

Both paths yield the same batches for the same arguments and seed
(`crops.paired_batches` draws TensorFlow's stateless numbers in NumPy), so
a run's crops do not depend on the backend it trained on. Under JAX or
PyTorch the `PyDataset` is used even where TensorFlow is installed: the run
then needs nothing of TensorFlow at all.
"""

import keras
import numpy as np


def tf_data_backend():
    """Whether the trainers feed `tf.data` (the TensorFlow backend) rather than a `PyDataset`."""
    return keras.backend.backend() == "tensorflow"


def training_crops(pairs, scale, patch_size, batch_size, lr_size, channels, seed, augment=True, cache=False,
                   order="hr", start=0):
    """Endless batches of aligned crops of `pairs`: `(hr, lr)`, or `(lr, hr)` with `order="lr"`; the first is the
    stream's batch `start` (where a resumed run goes on)."""
    if not tf_data_backend():
        from dml_keras.data.crops import paired_batches

        return paired_batches(pairs, scale, patch_size, batch_size, lr_size, channels, seed, augment,
                              cache=cache, order=order, start=start)
    from dml_keras.data.pipeline import paired_dataset

    data = paired_dataset(pairs, scale, patch_size, batch_size, lr_size, channels, seed=seed, augment=augment,
                          cache=cache)
    if order == "lr":
        data = data.map(_lr_first)
    return data.skip(start) if start else data


def whole_pairs(pairs, scale, lr_size, channels, order="hr"):
    """Validation data: every pair whole, one per batch, `(hr, lr)` or, with `order="lr"`, `(lr, hr)`."""
    if not tf_data_backend():
        from dml_keras.data.crops import WholePairs

        return WholePairs(pairs, scale, lr_size, channels, order)
    from dml_keras.data.pipeline import validation_batches

    return validation_batches(pairs, scale, lr_size, channels, inputs=order)


def first_batch(data):
    """The first batch of a `tf.data.Dataset` or a `PyDataset`, as NumPy arrays."""
    if isinstance(data, keras.utils.PyDataset):
        return tuple(keras.tree.map_structure(np.asarray, data[0]))
    return tuple(x.numpy() for x in next(iter(data.take(1))))


def _lr_first(hr, lr):
    return lr, hr
