"""The spatially variant filter of DML, in two forms that compute the same function.

DML degrades an image with a different kernel at every pixel, restricted to a
learned subspace: `k_ij = Σ_m C_ij(m) · φ_m`. Because the kernel is linear in
`C`, the output is `Σ_m C(m) ⊙ (HR ⋆ φ_m)`:

- `basis_filter` (the fast form): one convolution with the `M` basis kernels,
  then a per-pixel weighted sum. Memory `O(M)` per pixel.
- `per_pixel_filter` (the reference, and the filter of DirectKPN): gather every
  `K×K` window (`keras.ops.image.extract_patches`, a convolution with an
  identity kernel on every backend) and take its inner product with that
  pixel's kernel. Memory `O(K²)` per pixel.

Both use reflect padding of `K // 2` (the authors'), so the output has the
input's size, or `ceil(size / stride)` with `stride > 1` (native-size LR, the
window of LR pixel `i` centred on HR pixel `i · stride`). "Filter" here is an
inner product with the window (cross-correlation), as in the paper's
`LR(i, j) = <HR window at (i, j), k_ij>`.
"""

from keras import ops


def reflect_pad(images, padding):
    """Reflect-pad `(B, H, W, C)` images by `padding` pixels on each side (edge not repeated)."""
    return ops.pad(images, ((0, 0), (padding, padding), (padding, padding), (0, 0)), mode="reflect")


def _check_kernel_size(kernel_size):
    if kernel_size % 2 != 1:
        raise ValueError(f"kernel_size must be odd. Received: kernel_size={kernel_size}")


def basis_responses(images, basis, stride=1):
    """Each channel of `images` filtered by each basis kernel.

    Args:
        images: `(B, H, W, C)`.
        basis: `(K, K, M)` kernels, `K` odd.
        stride: output step (1, or `scale` for native-size LR).

    Returns:
        `(B, h, w, C, M)` with `h = ceil(H / stride)`, `w = ceil(W / stride)`.
    """
    kernel_size, num_basis = basis.shape[0], basis.shape[-1]
    _check_kernel_size(kernel_size)
    batch, height, width, channels = ops.shape(images)
    channels = images.shape[-1] or channels
    # Channels → batch, so one ordinary convolution with M output channels serves them all.
    planes = ops.reshape(ops.transpose(images, (0, 3, 1, 2)), (batch * channels, height, width, 1))
    planes = reflect_pad(planes, kernel_size // 2)
    kernels = ops.reshape(ops.cast(basis, images.dtype), (kernel_size, kernel_size, 1, num_basis))
    responses = ops.conv(planes, kernels, strides=stride, padding="valid")
    out_h, out_w = ops.shape(responses)[1], ops.shape(responses)[2]
    responses = ops.reshape(responses, (batch, channels, out_h, out_w, num_basis))
    return ops.transpose(responses, (0, 2, 3, 1, 4))


def basis_filter(images, basis, weights, stride=1):
    """DML's spatially variant filter, conv form: `Σ_m weights[..., m] · (images ⋆ basis[..., m])`.

    Args:
        images: `(B, H, W, C)`; every channel gets the same per-pixel kernel.
        basis: `(K, K, M)` basis kernels.
        weights: `(B, h, w, M)` per-pixel mixing coefficients on the output grid.
        stride: 1 (same-size LR) or the scale (native-size LR).

    Returns:
        `(B, h, w, C)`.

    Example:
    >>> import numpy as np
    >>> x = np.random.default_rng(0).random((1, 9, 9, 1)).astype("float32")
    >>> delta = np.zeros((3, 3, 1), "float32"); delta[1, 1] = 1
    >>> out = basis_filter(x, delta, np.ones((1, 9, 9, 1), "float32"))
    >>> bool(np.allclose(out, x))
    True
    """
    responses = basis_responses(images, basis, stride)
    return ops.sum(responses * ops.expand_dims(ops.cast(weights, images.dtype), axis=3), axis=-1)


def basis_to_pixel_kernels(basis, weights):
    """The per-pixel kernels `k_ij = Σ_m C_ij(m) φ_m` as `(B, h, w, K·K)` (row-major windows)."""
    kernel_size, num_basis = basis.shape[0], basis.shape[-1]
    flat = ops.reshape(ops.cast(basis, weights.dtype), (kernel_size * kernel_size, num_basis))
    return ops.einsum("bhwm,km->bhwk", weights, flat)


def per_pixel_filter(images, kernels, kernel_size, stride=1):
    """Filter every pixel with its own kernel: gather `K×K` windows and take inner products.

    Args:
        images: `(B, H, W, C)`.
        kernels: `(B, h, w, K·K)` per-pixel kernels, window in row-major order
            (unnormalised: DirectKPN predicts them freely).
        kernel_size: `K`, odd.
        stride: 1 or the scale.

    Returns:
        `(B, h, w, C)`.
    """
    _check_kernel_size(kernel_size)
    batch, height, width, channels = ops.shape(images)
    channels = images.shape[-1] or channels
    planes = ops.reshape(ops.transpose(images, (0, 3, 1, 2)), (batch * channels, height, width, 1))
    planes = reflect_pad(planes, kernel_size // 2)
    patches = ops.image.extract_patches(planes, kernel_size, strides=stride, padding="valid")
    out_h, out_w = ops.shape(patches)[1], ops.shape(patches)[2]
    patches = ops.reshape(patches, (batch, channels, out_h, out_w, kernel_size * kernel_size))
    out = ops.sum(patches * ops.expand_dims(ops.cast(kernels, images.dtype), axis=1), axis=-1)
    return ops.transpose(out, (0, 2, 3, 1))
