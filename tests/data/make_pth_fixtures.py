"""Write the `.pth` fixtures of tests/weights with PyTorch (run once by hand: `python tests/data/make_pth_fixtures.py`).

PyTorch is not a dependency of dml-keras: this script alone needs it (`pip install torch`). It writes, with
`torch.save`, a small BasicSR `RRDBNet` (1 block, 8 features, growth 4) as Real-ESRGAN ships its generators
(`params_ema` and `params`), a small `UNetDiscriminatorSN` (8 features) as Real-ESRGAN ships `netD`, and
the outputs PyTorch computes for fixed inputs, which the tests compare the imported Keras networks with.
The networks below follow BasicSR's `rrdbnet_arch.py` and Real-ESRGAN's `discriminator_arch.py`.
"""

from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F
from torch.nn.utils import spectral_norm

HERE = Path(__file__).resolve().parent / "pth"


class RDB(nn.Module):
    def __init__(self, f, g):
        super().__init__()
        self.conv1 = nn.Conv2d(f, g, 3, 1, 1)
        self.conv2 = nn.Conv2d(f + g, g, 3, 1, 1)
        self.conv3 = nn.Conv2d(f + 2 * g, g, 3, 1, 1)
        self.conv4 = nn.Conv2d(f + 3 * g, g, 3, 1, 1)
        self.conv5 = nn.Conv2d(f + 4 * g, f, 3, 1, 1)

    def forward(self, x):
        lrelu = nn.LeakyReLU(0.2)
        x1 = lrelu(self.conv1(x))
        x2 = lrelu(self.conv2(torch.cat((x, x1), 1)))
        x3 = lrelu(self.conv3(torch.cat((x, x1, x2), 1)))
        x4 = lrelu(self.conv4(torch.cat((x, x1, x2, x3), 1)))
        return self.conv5(torch.cat((x, x1, x2, x3, x4), 1)) * 0.2 + x


class RRDB(nn.Module):
    def __init__(self, f, g):
        super().__init__()
        self.rdb1, self.rdb2, self.rdb3 = RDB(f, g), RDB(f, g), RDB(f, g)

    def forward(self, x):
        return self.rdb3(self.rdb2(self.rdb1(x))) * 0.2 + x


class RRDBNet(nn.Module):
    def __init__(self, blocks=1, f=8, g=4):
        super().__init__()
        self.conv_first = nn.Conv2d(3, f, 3, 1, 1)
        self.body = nn.Sequential(*[RRDB(f, g) for _ in range(blocks)])
        self.conv_body = nn.Conv2d(f, f, 3, 1, 1)
        self.conv_up1 = nn.Conv2d(f, f, 3, 1, 1)
        self.conv_up2 = nn.Conv2d(f, f, 3, 1, 1)
        self.conv_hr = nn.Conv2d(f, f, 3, 1, 1)
        self.conv_last = nn.Conv2d(f, 3, 3, 1, 1)

    def forward(self, x):
        lrelu = nn.LeakyReLU(0.2)
        feat = self.conv_first(x)
        feat = feat + self.conv_body(self.body(feat))
        feat = lrelu(self.conv_up1(F.interpolate(feat, scale_factor=2, mode="nearest")))
        feat = lrelu(self.conv_up2(F.interpolate(feat, scale_factor=2, mode="nearest")))
        return self.conv_last(lrelu(self.conv_hr(feat)))


class UNetDiscriminatorSN(nn.Module):
    def __init__(self, f=8):
        super().__init__()
        self.conv0 = nn.Conv2d(3, f, 3, 1, 1)
        self.conv1 = spectral_norm(nn.Conv2d(f, f * 2, 4, 2, 1, bias=False))
        self.conv2 = spectral_norm(nn.Conv2d(f * 2, f * 4, 4, 2, 1, bias=False))
        self.conv3 = spectral_norm(nn.Conv2d(f * 4, f * 8, 4, 2, 1, bias=False))
        self.conv4 = spectral_norm(nn.Conv2d(f * 8, f * 4, 3, 1, 1, bias=False))
        self.conv5 = spectral_norm(nn.Conv2d(f * 4, f * 2, 3, 1, 1, bias=False))
        self.conv6 = spectral_norm(nn.Conv2d(f * 2, f, 3, 1, 1, bias=False))
        self.conv7 = spectral_norm(nn.Conv2d(f, f, 3, 1, 1, bias=False))
        self.conv8 = spectral_norm(nn.Conv2d(f, f, 3, 1, 1, bias=False))
        self.conv9 = nn.Conv2d(f, 1, 3, 1, 1)

    def forward(self, x):
        def lrelu(t):
            return F.leaky_relu(t, 0.2)

        x0 = lrelu(self.conv0(x))
        x1 = lrelu(self.conv1(x0))
        x2 = lrelu(self.conv2(x1))
        x3 = lrelu(self.conv3(x2))
        x3 = F.interpolate(x3, scale_factor=2, mode="bilinear", align_corners=False)
        x4 = lrelu(self.conv4(x3)) + x2
        x4 = F.interpolate(x4, scale_factor=2, mode="bilinear", align_corners=False)
        x5 = lrelu(self.conv5(x4)) + x1
        x5 = F.interpolate(x5, scale_factor=2, mode="bilinear", align_corners=False)
        x6 = lrelu(self.conv6(x5)) + x0
        out = lrelu(self.conv7(x6))
        out = lrelu(self.conv8(out))
        return self.conv9(out)


def main():
    HERE.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    generator, other = RRDBNet(), RRDBNet()
    for net in (generator, other):  # larger weights than the default init, so that every layer shows
        for p in net.parameters():
            p.data.mul_(3.0)
    torch.save({"params_ema": generator.state_dict(), "params": other.state_dict()}, HERE / "rrdbnet_1x8x4.pth")
    torch.save({"params": other.state_dict()}, HERE / "rrdbnet_params_only.pth")
    discriminator = UNetDiscriminatorSN()
    discriminator.train()
    for _ in range(3):  # a few power iterations, as a trained netD's vectors have had
        discriminator(torch.rand(1, 3, 16, 16))
    discriminator.eval()
    torch.save({"params": discriminator.state_dict()}, HERE / "unet_discriminator_8.pth")
    rng = np.random.default_rng(0)
    lr = rng.random((2, 3, 6, 7), dtype=np.float32)
    hr = rng.random((2, 3, 16, 24), dtype=np.float32)
    with torch.no_grad():
        np.savez_compressed(HERE / "outputs.npz", lr=lr, sr_ema=generator(torch.from_numpy(lr)).numpy(),
                            sr_params=other(torch.from_numpy(lr)).numpy(), hr=hr,
                            logits=discriminator(torch.from_numpy(hr)).numpy())
    # a pickle that names another global than tensors and storages: it must be refused before anything runs
    torch.save({"params": {"conv_first.weight": torch.zeros(1)}, "hook": print}, HERE / "names_a_builtin.pth")
    # the legacy (torch < 1.6) format
    torch.save({"w": torch.zeros(2)}, HERE / "legacy.pth", _use_new_zipfile_serialization=False)


if __name__ == "__main__":
    main()
