import keras
import numpy as np
import pytest

from dml_keras.ops.filtering import basis_filter, basis_to_pixel_kernels, per_pixel_filter
from tests.conftest import needs_tensorflow


def _gradients(loss_fn, arrays):
    """Gradients of `loss_fn(*arrays)` with the active Keras backend's autodiff."""
    if keras.backend.backend() == "jax":
        import jax

        return [np.asarray(g) for g in jax.grad(loss_fn, argnums=tuple(range(len(arrays))))(*arrays)]
    import tensorflow as tf

    tensors = [tf.constant(a) for a in arrays]
    with tf.GradientTape() as tape:
        tape.watch(tensors)
        loss = loss_fn(*tensors)
    return [g.numpy() for g in tape.gradient(loss, tensors)]


def _naive(images, pixel_kernels, kernel_size, stride):
    """Loops over output pixels: the obvious definition."""
    r = kernel_size // 2
    padded = np.pad(images, ((0, 0), (r, r), (r, r), (0, 0)), mode="reflect")
    batch, out_h, out_w, _ = pixel_kernels.shape
    kernels = pixel_kernels.reshape(batch, out_h, out_w, kernel_size, kernel_size)
    out = np.zeros((batch, out_h, out_w, images.shape[-1]))
    for i in range(out_h):
        for j in range(out_w):
            window = padded[:, i * stride : i * stride + kernel_size, j * stride : j * stride + kernel_size]
            out[:, i, j] = np.einsum("buvc,buv->bc", window, kernels[:, i, j])
    return out


def _case(stride, dtype, height=13, width=11, channels=3, kernel_size=5, num_basis=4, seed=0):
    rng = np.random.default_rng(seed)
    images = rng.random((2, height, width, channels)).astype(dtype)
    basis = rng.normal(size=(kernel_size, kernel_size, num_basis)).astype(dtype)
    weights = rng.random((2, -(-height // stride), -(-width // stride), num_basis)).astype(dtype)
    return images, basis, weights


@pytest.mark.parametrize("stride", [1, 2, 3, 4])
def test_conv_form_equals_extract_patches_and_naive_float64(stride):
    images, basis, weights = _case(stride, "float64")
    fast = np.asarray(basis_filter(images, basis, weights, stride))
    reference = np.asarray(per_pixel_filter(images, basis_to_pixel_kernels(basis, weights), 5, stride))
    naive = _naive(images, np.asarray(basis_to_pixel_kernels(basis, weights)), 5, stride)
    assert fast.shape == (2, -(-13 // stride), -(-11 // stride), 3)
    assert np.abs(fast - reference).max() <= 1e-10
    assert np.abs(fast - naive).max() <= 1e-10


@pytest.mark.parametrize("stride", [1, 3])
def test_conv_form_equals_reference_float32_paper_kernel(stride):
    images, basis, weights = _case(stride, "float32", height=33, width=29, channels=1, kernel_size=15, num_basis=8)
    basis = np.abs(basis) / np.abs(basis).sum(axis=(0, 1))  # realistic blur kernels
    fast = np.asarray(basis_filter(images, basis, weights, stride))
    reference = np.asarray(per_pixel_filter(images, basis_to_pixel_kernels(basis, weights), 15, stride))
    assert np.abs(fast - reference).max() <= 1e-5


@needs_tensorflow
def test_keras_patches_equal_tf_image_extract_patches():
    import tensorflow as tf

    images, basis, weights = _case(1, "float64", channels=1)
    kernels = np.asarray(basis_to_pixel_kernels(basis, weights))
    padded = np.pad(images, ((0, 0), (2, 2), (2, 2), (0, 0)), mode="reflect")
    patches = tf.image.extract_patches(padded, [1, 5, 5, 1], [1, 1, 1, 1], [1, 1, 1, 1], "VALID").numpy()
    expected = np.sum(patches * kernels, axis=-1, keepdims=True)
    np.testing.assert_allclose(per_pixel_filter(images, kernels, 5), expected, atol=1e-12)


@pytest.mark.parametrize("stride", [1, 2])
def test_gradients_agree(stride):
    arrays = _case(stride, "float64")
    target = np.random.default_rng(1).random((2, -(-13 // stride), -(-11 // stride), 3))

    def conv_loss(images, basis, weights):
        return keras.ops.sum((basis_filter(images, basis, weights, stride) - target) ** 2)

    def patches_loss(images, basis, weights):
        out = per_pixel_filter(images, basis_to_pixel_kernels(basis, weights), 5, stride)
        return keras.ops.sum((out - target) ** 2)

    grads = [_gradients(conv_loss, arrays), _gradients(patches_loss, arrays)]
    for fast, reference in zip(*grads):
        assert np.abs(fast - reference).max() <= 1e-10


def test_rejects_even_kernel_size():
    with pytest.raises(ValueError, match="kernel_size must be odd"):
        basis_filter(np.zeros((1, 8, 8, 1)), np.zeros((4, 4, 2)), np.zeros((1, 8, 8, 2)))
