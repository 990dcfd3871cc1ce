#!/usr/bin/python3
"""2D segmentation networks of the kinds labs bring, built in PyTorch with
random weights and exported with torch.onnx.export, for `tessera import-model`.

The architectures follow their originals' layer kinds and wiring in plain
PyTorch (no MONAI or nnU-Net install): MONAI's BasicUNet (conv, instance
norm, dropout, LeakyReLU; max pooling; transposed-conv up-sampling; cat
[skip, up]), MONAI's UNet (residual units of stride-2 convolutions with
instance norm and PReLU; 3×3 transposed convs with output padding), nnU-Net's
PlainConvUNet (strided conv encoder, instance norm, LeakyReLU, 2×2 transposed
convs, cat [up, skip], 1×1 head), one with batch norm, bilinear and nearest
up-sampling, residual additions and a softmax, one laid out as Tessera's
U-Net (runs sparse), two that must be refused, and a crafted file
(crafted_dims.onnx: weights with negative dims).

For each NAME: NAME.onnx, NAME.labels.json (one name per output), NAME.hu.npy (1, C, H, W) HU values, NAME.logits.npy
(1, classes, H, W) PyTorch's output on those HU values mapped through the
window [HU_MIN, HU_MAX] to [0, 1], as Tessera's import does.

usage: torch_foreign_nets.py OUTDIR
"""
import json
import sys

import numpy as np
import torch
from torch import nn

HU_MIN, HU_MAX = -1000.0, 1000.0
SIZE = 64


def randomize_norms(model, generator):
    for m in model.modules():
        if isinstance(m, (nn.BatchNorm2d, nn.InstanceNorm2d)) and m.affine:
            with torch.no_grad():
                m.weight.uniform_(0.5, 1.5, generator=generator)
                m.bias.uniform_(-0.2, 0.2, generator=generator)
        if isinstance(m, nn.BatchNorm2d):
            with torch.no_grad():
                m.running_mean.uniform_(-0.2, 0.2, generator=generator)
                m.running_var.uniform_(0.5, 2.0, generator=generator)


# ---------------------------------------------------------------- BasicUNet
class TwoConv(nn.Sequential):
    def __init__(self, cin, cout):
        super().__init__(
            nn.Conv2d(cin, cout, 3, padding=1), nn.InstanceNorm2d(cout, affine=True),
            nn.Dropout(0.1), nn.LeakyReLU(0.1),
            nn.Conv2d(cout, cout, 3, padding=1), nn.InstanceNorm2d(cout, affine=True),
            nn.Dropout(0.1), nn.LeakyReLU(0.1))


class BasicUNet(nn.Module):
    def __init__(self, cin=1, classes=3, f=(8, 8, 16, 32, 8)):
        super().__init__()
        self.conv0 = TwoConv(cin, f[0])
        self.down1 = nn.Sequential(nn.MaxPool2d(2), TwoConv(f[0], f[1]))
        self.down2 = nn.Sequential(nn.MaxPool2d(2), TwoConv(f[1], f[2]))
        self.down3 = nn.Sequential(nn.MaxPool2d(2), TwoConv(f[2], f[3]))
        self.up3 = nn.ConvTranspose2d(f[3], f[3] // 2, 2, stride=2)
        self.cat3 = TwoConv(f[2] + f[3] // 2, f[2])
        self.up2 = nn.ConvTranspose2d(f[2], f[2] // 2, 2, stride=2)
        self.cat2 = TwoConv(f[1] + f[2] // 2, f[1])
        self.up1 = nn.ConvTranspose2d(f[1], f[1] // 2, 2, stride=2)
        self.cat1 = TwoConv(f[0] + f[1] // 2, f[4])
        self.final = nn.Conv2d(f[4], classes, 1)

    def forward(self, x):
        x0 = self.conv0(x)
        x1 = self.down1(x0)
        x2 = self.down2(x1)
        x3 = self.down3(x2)
        u = self.cat3(torch.cat([x2, self.up3(x3)], 1))
        u = self.cat2(torch.cat([x1, self.up2(u)], 1))
        u = self.cat1(torch.cat([x0, self.up1(u)], 1))
        return self.final(u)


# ---------------------------------------------------------------- MONAI UNet
class ResidualUnit(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv = nn.Sequential(
            nn.Conv2d(cin, cout, 3, stride=stride, padding=1), nn.InstanceNorm2d(cout, affine=True),
            nn.PReLU(),
            nn.Conv2d(cout, cout, 3, padding=1), nn.InstanceNorm2d(cout, affine=True),
            nn.PReLU(cout))
        self.residual = nn.Conv2d(cin, cout, 3 if stride > 1 else 1, stride=stride,
                                  padding=1 if stride > 1 else 0)

    def forward(self, x):
        return self.conv(x) + self.residual(x)


def up_block(cin, cout):
    return nn.Sequential(
        nn.ConvTranspose2d(cin, cout, 3, stride=2, padding=1, output_padding=1),
        nn.InstanceNorm2d(cout, affine=True), nn.PReLU())


class MonaiUNet(nn.Module):
    def __init__(self, cin=3, classes=4, ch=(8, 16, 32)):
        super().__init__()
        self.down0 = ResidualUnit(cin, ch[0], 2)
        self.down1 = ResidualUnit(ch[0], ch[1], 2)
        self.bottom = ResidualUnit(ch[1], ch[2], 1)
        self.up1 = up_block(ch[2] + ch[1], ch[0])
        self.up0 = up_block(ch[0] * 2, classes)
        self.head = ResidualUnit(classes, classes, 1)

    def forward(self, x):
        d0 = self.down0(x)
        d1 = self.down1(d0)
        b = self.bottom(d1)
        u1 = self.up1(torch.cat([d1, b], 1))
        u0 = self.up0(torch.cat([d0, u1], 1))
        return self.head(u0)


# ------------------------------------------------------------ PlainConvUNet
def stage(cin, cout, stride):
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, stride=stride, padding=1), nn.InstanceNorm2d(cout, eps=1e-5, affine=True),
        nn.LeakyReLU(0.01),
        nn.Conv2d(cout, cout, 3, padding=1), nn.InstanceNorm2d(cout, eps=1e-5, affine=True),
        nn.LeakyReLU(0.01))


class PlainConvUNet(nn.Module):
    def __init__(self, cin=1, classes=3, f=(8, 16, 32, 32)):
        super().__init__()
        self.enc = nn.ModuleList(
            [stage(cin, f[0], 1)] + [stage(f[i - 1], f[i], 2) for i in range(1, len(f))])
        self.ups = nn.ModuleList(
            [nn.ConvTranspose2d(f[i], f[i - 1], 2, stride=2) for i in range(len(f) - 1, 0, -1)])
        self.dec = nn.ModuleList([stage(2 * f[i - 1], f[i - 1], 1) for i in range(len(f) - 1, 0, -1)])
        self.seg = nn.Conv2d(f[0], classes, 1)

    def forward(self, x):
        skips = []
        for s in self.enc:
            x = s(x)
            skips.append(x)
        x = skips.pop()
        for up, dec in zip(self.ups, self.dec):
            x = dec(torch.cat([up(x), skips.pop()], 1))
        return self.seg(x)


# --------------------------------- batch norm, interpolation, residuals, softmax
class UpsampleResNet(nn.Module):
    def __init__(self, cin=3, classes=5, w=16):
        super().__init__()
        self.inc = nn.Sequential(nn.Conv2d(cin, w, 3, padding=1), nn.BatchNorm2d(w), nn.ReLU())
        self.down = nn.Sequential(nn.MaxPool2d(2), nn.Conv2d(w, 2 * w, 3, padding=1),
                                  nn.BatchNorm2d(2 * w), nn.ReLU())
        self.block = nn.Sequential(nn.Conv2d(2 * w, 2 * w, 3, padding=1), nn.BatchNorm2d(2 * w))
        self.deeper = nn.Sequential(nn.MaxPool2d(2), nn.Conv2d(2 * w, 2 * w, 1), nn.ReLU(),
                                    nn.Upsample(scale_factor=2, mode="nearest"))
        self.up = nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False)
        self.up_aligned = nn.Upsample(scale_factor=2, mode="bilinear", align_corners=True)
        self.mix = nn.BatchNorm2d(5 * w)
        self.out = nn.Conv2d(5 * w, classes, 3, padding=1)

    def forward(self, x):
        a = self.inc(x)
        b = self.down(a)
        b = torch.relu(self.block(b) + b) + self.deeper(b)
        c = torch.cat([a, self.up(b), self.up_aligned(b)], 1)
        return torch.softmax(self.out(self.mix(c)), 1)


# ------------------------------------------------- Tessera's U-Net layout
def conv_bn_relu(cin, cout):
    return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU()]


class TesseraLike(nn.Module):
    def __init__(self, cin=3, classes=4, w=16, levels=2):
        super().__init__()
        ch = [w << i for i in range(levels + 1)]
        self.enc = nn.ModuleList(
            [nn.Sequential(*conv_bn_relu(cin if i == 0 else ch[i - 1], ch[i]), *conv_bn_relu(ch[i], ch[i]))
             for i in range(levels)])
        self.bott = nn.Sequential(*conv_bn_relu(ch[levels - 1], ch[levels]),
                                  *conv_bn_relu(ch[levels], ch[levels]))
        self.up = nn.ModuleList([nn.ConvTranspose2d(ch[i + 1], ch[i], 2, stride=2)
                                 for i in range(levels)])
        self.dec = nn.ModuleList(
            [nn.Sequential(*conv_bn_relu(2 * ch[i], ch[i]), *conv_bn_relu(ch[i], ch[i]))
             for i in range(levels)])
        self.head = nn.Conv2d(ch[0], classes, 1)
        self.levels = levels

    def forward(self, x):
        skips = []
        for e in self.enc:
            x = e(x)
            skips.append(x)
            x = torch.max_pool2d(x, 2)
        x = self.bott(x)
        for i in reversed(range(self.levels)):
            x = self.dec[i](torch.cat([self.up[i](x), skips[i]], 1))
        return self.head(x)


# ------------------------------------------------------------- refused
class WithGelu(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 8, 3, padding=1)
        self.head = nn.Conv2d(8, 2, 1)

    def forward(self, x):
        return self.head(nn.functional.gelu(self.conv(x)) * 0.5)


class SizeBased(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 8, 3, padding=1)
        self.head = nn.Conv2d(8, 2, 1)

    def forward(self, x):
        y = torch.max_pool2d(self.conv(x), 2)
        return self.head(nn.functional.interpolate(y, size=x.shape[2:]))


NETWORKS = {
    "basic_unet": BasicUNet,
    "monai_unet": MonaiUNet,
    "plain_conv_unet": PlainConvUNet,
    "upsample_resnet": UpsampleResNet,
    "tessera_like": TesseraLike,
    "gelu": WithGelu,
    "size_based": SizeBased,
}


def phantom_hu(channels, generator):
    """An ellipse of soft tissue with brighter and darker structures in air."""
    y, x = torch.meshgrid(torch.arange(SIZE), torch.arange(SIZE), indexing="ij")
    slices = []
    for c in range(channels):
        body = ((x - 32) / 26.0) ** 2 + ((y - 32) / (20.0 + c)) ** 2 < 1
        organ = ((x - 24) / 8.0) ** 2 + ((y - 30) / 6.0) ** 2 < 1
        hu = torch.full((SIZE, SIZE), -1000.0)
        hu[body] = 40.0
        hu[organ] = 180.0
        hu += torch.randint(-30, 30, (SIZE, SIZE), generator=generator).float()
        slices.append(hu)
    return torch.stack(slices)[None]


def main(out):
    for index, (name, make) in enumerate(NETWORKS.items()):
        generator = torch.Generator().manual_seed(100 + index)
        torch.manual_seed(100 + index)
        model = make()
        randomize_norms(model, generator)
        model.eval()
        cin = next(model.parameters()).shape[1]
        hu = phantom_hu(cin, generator)
        lo, hi = np.float32(HU_MIN), np.float32(HU_MAX)
        x = torch.from_numpy((np.clip(hu.numpy(), lo, hi) - lo) / (hi - lo))
        with torch.no_grad():
            logits = model(x)
        dynamic = {"input": {2: "height", 3: "width"}} if name == "size_based" else None
        torch.onnx.export(model, x, f"{out}/{name}.onnx", input_names=["input"],
                          output_names=["logits"], opset_version=13, dynamic_axes=dynamic)
        np.save(f"{out}/{name}.hu.npy", hu.numpy().astype(np.float32))
        np.save(f"{out}/{name}.logits.npy", logits.numpy().astype(np.float32))
        with open(f"{out}/{name}.labels.json", "w") as f:
            json.dump(["background"] + [f"class{i}" for i in range(1, logits.shape[1])], f)


def crafted(out):
    """basic_unet with a first convolution whose weights claim negative dims."""
    import onnx
    model = onnx.load(f"{out}/basic_unet.onnx")
    conv = next(n for n in model.graph.node if n.op_type == "Conv")
    weight = next(t for t in model.graph.initializer if t.name == conv.input[1])
    weight.dims[0] = -weight.dims[0]
    onnx.save(model, f"{out}/crafted_dims.onnx")


if __name__ == "__main__":
    main(sys.argv[1])
    crafted(sys.argv[1])
