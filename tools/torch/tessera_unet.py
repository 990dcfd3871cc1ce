#!/usr/bin/python3
"""PyTorch twin of Tessera's U-Net: same architecture, same parameter names.

A comparison and research tool, never a runtime dependency of Tessera (the
product reads and runs ONNX files natively). It lets a lab

  * load a Tessera model file into PyTorch (load_from_onnx) to compare
    outputs and speed (bench_torch.py), or to fine-tune it there, and
  * write a PyTorch-trained twin back as a Tessera model file (export_onnx)
    through torch.onnx.export, which Tessera imports.

Run with Debian's interpreter, /usr/bin/python3 (python3-torch, python3-onnx).
The file format is described in docs/MODEL_FORMAT.md.

Command line:
  tessera_unet.py reexport IN.onnx OUT.onnx [--size H W] [--training-heads]
      loads IN into the twin and writes it again with torch.onnx.export.
"""

import argparse
import copy
import io
import json
import math
import os
import sys
from dataclasses import dataclass

import numpy as np
import onnx
import torch
import torch.nn.functional as F
from onnx import numpy_helper
from torch import nn

FORMAT_VERSION = "1"
OPSET = 13
# Keys a PyTorch-trained model must bring; export_onnx derives the others.
REQUIRED_METADATA = (
    "tessera.model_name",
    "tessera.model_version",
    "tessera.labels",
    "tessera.input_normalization",
)


@dataclass
class UNetConfig:
    """Mirror of tessera::models::UNetConfig (models/net/unet.h)."""

    input_channels: int = 3
    classes: int = 10
    base_width: int = 16
    levels: int = 4
    attention_heads: int = 8
    deep_supervision: bool = True
    bn_eps: float = 1e-5
    bn_momentum: float = 0.1

    def channels(self, level):
        return self.base_width << level

    def head_width(self):
        return self.channels(self.levels) // self.attention_heads

    @staticmethod
    def from_json(text):
        data = json.loads(text)
        missing = [k for k in ("input_channels", "classes", "base_width", "levels",
                               "attention_heads", "deep_supervision", "bn_eps") if k not in data]
        if missing:
            raise ValueError("tessera.architecture: missing " + ", ".join(missing))
        return UNetConfig(
            input_channels=int(data["input_channels"]),
            classes=int(data["classes"]),
            base_width=int(data["base_width"]),
            levels=int(data["levels"]),
            attention_heads=int(data["attention_heads"]),
            deep_supervision=bool(data["deep_supervision"]),
            bn_eps=float(data["bn_eps"]),
            bn_momentum=float(data.get("bn_momentum", 0.1)),
        )

    def to_json(self):
        return json.dumps({
            "input_channels": self.input_channels,
            "classes": self.classes,
            "base_width": self.base_width,
            "levels": self.levels,
            "attention_heads": self.attention_heads,
            "deep_supervision": self.deep_supervision,
            "bn_eps": self.bn_eps,
            "bn_momentum": self.bn_momentum,
        }, separators=(",", ":"))

    def forward_flops(self, height, width):
        """Multiply-adds x2 of one forward pass (UNetConfig::forwardFlops)."""
        flops = 0.0
        pixels = float(height * width)
        cin = self.input_channels

        def conv(ci, co, k, px):
            return 2.0 * ci * co * k * k * px

        for level in range(self.levels):
            flops += conv(cin, self.channels(level), 3, pixels)
            flops += conv(self.channels(level), self.channels(level), 3, pixels)
            cin = self.channels(level)
            pixels /= 4
        cb = self.channels(self.levels)
        flops += conv(cin, cb, 3, pixels) + conv(cb, cb, 3, pixels)
        if self.attention_heads > 0:
            flops += conv(cb, 4 * cb, 1, pixels) + 2.0 * 2.0 * pixels * pixels * cb
        for level in reversed(range(self.levels)):
            c = self.channels(level)
            flops += conv(self.channels(level + 1), c, 2, pixels)
            pixels *= 4
            flops += conv(2 * c, c, 3, pixels) + conv(c, c, 3, pixels)
            if level == 0 or self.deep_supervision:
                flops += conv(c, self.classes, 1, pixels)
        return flops


class ConvBlock(nn.Module):
    """Two conv3x3 (no bias) - batch norm - ReLU: names conv1, bn1, conv2, bn2."""

    def __init__(self, cin, cout, config):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout, eps=config.bn_eps, momentum=config.bn_momentum)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout, eps=config.bn_eps, momentum=config.bn_momentum)

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(x)))


class Attention(nn.Module):
    """Multi-head self-attention among all bottleneck pixels, with a residual.

    Head h uses channels [h*d, (h+1)*d). Written with reshape / transpose /
    matmul so that torch.onnx.export produces the graph Tessera writes.
    """

    def __init__(self, channels, heads):
        super().__init__()
        self.q = nn.Conv2d(channels, channels, 1)
        self.k = nn.Conv2d(channels, channels, 1)
        self.v = nn.Conv2d(channels, channels, 1)
        self.o = nn.Conv2d(channels, channels, 1)
        self.heads = heads
        # Export copies set these: q then already holds q / sqrt(d), and the
        # reshapes use constant shapes instead of traced Shape ops.
        self.query_scale_folded = False
        self.static_shape = None

    def forward(self, x):
        n, c, h, w = self.static_shape if self.static_shape is not None else x.shape
        d, t = c // self.heads, h * w
        q = self.q(x)
        if not self.query_scale_folded:
            q = q * (1.0 / math.sqrt(d))
        q = q.reshape(n * self.heads, d, t)
        k = self.k(x).reshape(n * self.heads, d, t)
        v = self.v(x).reshape(n * self.heads, d, t)
        a = torch.softmax(torch.matmul(q.transpose(1, 2), k), dim=-1)
        o = torch.matmul(v, a.transpose(1, 2)).reshape(n, c, h, w)
        return x + self.o(o)


class TesseraUNet(nn.Module):
    """The network of models/net/unet.h; state_dict names equal Tessera's."""

    def __init__(self, config):
        super().__init__()
        self.config = config
        cin = config.input_channels
        for level in range(config.levels):
            setattr(self, f"enc{level}", ConvBlock(cin, config.channels(level), config))
            cin = config.channels(level)
        cb = config.channels(config.levels)
        self.bott = ConvBlock(cin, cb, config)
        if config.attention_heads > 0:
            self.att = Attention(cb, config.attention_heads)
        for level in reversed(range(config.levels)):
            c = config.channels(level)
            setattr(self, f"up{level}", nn.ConvTranspose2d(config.channels(level + 1), c, 2, stride=2))
            setattr(self, f"dec{level}", ConvBlock(2 * c, c, config))
            if level == 0 or config.deep_supervision:
                setattr(self, f"head{level}", nn.Conv2d(c, config.classes, 1))
        # True: forward returns (logits, logits_1, ...) for every head.
        self.all_heads = False

    def forward(self, x):
        skips = []
        for level in range(self.config.levels):
            x = getattr(self, f"enc{level}")(x)
            skips.append(x)
            x = F.max_pool2d(x, 2, 2)
        x = self.bott(x)
        if self.config.attention_heads > 0:
            x = self.att(x)
        outputs = {}
        for level in reversed(range(self.config.levels)):
            x = getattr(self, f"up{level}")(x)
            x = torch.cat([x, skips[level]], 1)
            x = getattr(self, f"dec{level}")(x)
            if level == 0 or (self.all_heads and self.config.deep_supervision):
                outputs[level] = getattr(self, f"head{level}")(x)
        if self.all_heads and self.config.deep_supervision:
            return tuple(outputs[level] for level in sorted(outputs))
        return outputs[0]


def _constant_tensors(graph):
    """Initializers, Constant outputs and Identity aliases, by name."""
    values = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    for node in graph.node:
        if node.op_type == "Constant":
            for attr in node.attribute:
                if attr.name == "value":
                    values[node.output[0]] = numpy_helper.to_array(attr.t)
        elif node.op_type == "Identity" and node.input[0] in values:
            values[node.output[0]] = values[node.input[0]]
    return values


def load_from_onnx(path):
    """Returns (TesseraUNet in eval mode, metadata dict) from a Tessera model file."""
    proto = onnx.load(path)
    metadata = {p.key: p.value for p in proto.metadata_props}
    version = metadata.get("tessera.format_version")
    if version is None:
        raise ValueError(f"{path}: not a Tessera model (no tessera.format_version metadata)")
    if version != FORMAT_VERSION:
        raise ValueError(f"{path}: model format version {version} is not supported")
    if "tessera.architecture" not in metadata:
        raise ValueError(f"{path}: metadata tessera.architecture is missing")
    config = UNetConfig.from_json(metadata["tessera.architecture"])
    model = TesseraUNet(config)
    values = _constant_tensors(proto.graph)
    state = model.state_dict()
    for name, tensor in state.items():
        if name.endswith("num_batches_tracked"):
            continue
        if name not in values:
            raise ValueError(f"{path}: initializer {name} is missing")
        array = values[name]
        if tuple(array.shape) != tuple(tensor.shape):
            raise ValueError(f"{path}: initializer {name} has shape {list(array.shape)}, "
                             f"expected {list(tensor.shape)}")
        value = torch.from_numpy(np.array(array, dtype=np.float32))
        if name in ("att.q.weight", "att.q.bias"):
            # Files hold q / sqrt(d); same double arithmetic as Tessera's import.
            value = (value.double() * math.sqrt(config.head_width())).float()
        state[name] = value
    model.load_state_dict(state)
    model.eval()
    return model, metadata


def export_onnx(model, path, metadata, height=512, width=512, include_training_heads=False):
    """Writes `model` as a Tessera model file through torch.onnx.export.

    metadata: dict with at least REQUIRED_METADATA (e.g. from load_from_onnx);
    architecture, context slices, block size and format version are derived
    from the model. The file is written to a temporary name, then renamed.
    """
    missing = [k for k in REQUIRED_METADATA if k not in metadata]
    if missing:
        raise ValueError("metadata lacks " + ", ".join(missing))
    config = model.config
    multiple = 1 << config.levels
    if height % multiple or width % multiple or height <= 0 or width <= 0:
        raise ValueError(f"height and width must be positive multiples of {multiple}")
    heads = include_training_heads and config.deep_supervision

    twin = copy.deepcopy(model).eval()
    twin.all_heads = heads
    if config.attention_heads > 0:
        scale = 1.0 / math.sqrt(config.head_width())
        with torch.no_grad():
            twin.att.q.weight.copy_((twin.att.q.weight.double() * scale).float())
            twin.att.q.bias.copy_((twin.att.q.bias.double() * scale).float())
        twin.att.query_scale_folded = True
        twin.att.static_shape = (1, config.channels(config.levels), height >> config.levels,
                                 width >> config.levels)
    outputs = ["logits"] + ([f"logits_{level}" for level in range(1, config.levels)] if heads else [])
    buffer = io.BytesIO()
    with torch.no_grad():
        torch.onnx.export(twin, torch.zeros(1, config.input_channels, height, width), buffer,
                          opset_version=OPSET, do_constant_folding=False,
                          training=torch.onnx.TrainingMode.PRESERVE,
                          input_names=["input"], output_names=outputs)
    proto = onnx.load_from_string(buffer.getvalue())

    architecture = copy.copy(config)
    architecture.deep_supervision = heads
    props = dict(metadata)
    props.pop("tessera.folded_batch_norm", None)
    props.update({
        "tessera.format_version": FORMAT_VERSION,
        "tessera.architecture": architecture.to_json(),
        "tessera.context_slices": str(config.input_channels),
    })
    props.setdefault("tessera.block_size", "16")
    del proto.metadata_props[:]
    for key, value in props.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.checker.check_model(proto)

    directory, name = os.path.split(os.path.abspath(path))
    temporary = os.path.join(directory, f".{name}.tmp-{os.getpid()}")
    try:
        onnx.save(proto, temporary)
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    reexport = sub.add_parser("reexport", help="load a model file and write it with torch.onnx")
    reexport.add_argument("input")
    reexport.add_argument("output")
    reexport.add_argument("--size", nargs=2, type=int, metavar=("H", "W"), default=None,
                          help="graph input size (default: that of the input file)")
    reexport.add_argument("--training-heads", action="store_true",
                          help="export the deep-supervision heads as extra outputs")
    args = parser.parse_args(argv)
    try:
        model, metadata = load_from_onnx(args.input)
        if args.size:
            height, width = args.size
        else:
            dims = onnx.load(args.input).graph.input[0].type.tensor_type.shape.dim
            height, width = dims[2].dim_value, dims[3].dim_value
        export_onnx(model, args.output, metadata, height, width, args.training_heads)
    except (ValueError, OSError, onnx.checker.ValidationError) as error:
        print(f"tessera_unet.py: error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
