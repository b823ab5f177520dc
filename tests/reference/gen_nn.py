"""References for the nn layer: a small nested model that uses every layer of nn/layers.h, built with
PyTorch's (and mmcv's) module names, plus the SE and global-context blocks on their own.

The blocks are re-written here from the mmcv / MMPose sources (mmpose/models/utils/se_layer.py,
mmcv/cnn/bricks/context_block.py) so that torch alone is needed; names and computations are theirs.

Saved per case (prefix p): p.state.<name> the state_dict before the forward, metadata p.order its
names in state_dict order, p.x the input, p.y the training-mode output, p.dy the upstream gradient,
p.dx and p.grad.<name> the gradients of sum(y * dy), p.after.<name> the buffers after the training
forward, p.y_eval the evaluation-mode output after it.
"""
import json

import torch
import torch.nn as nn
import torch.nn.functional as F

from st import save


class ConvModule(nn.Module):
    """mmcv ConvModule, conv -> (bn) -> act, bias only without BN."""

    def __init__(self, cin, cout, k=1, stride=1, padding=0, with_bn=False, act=None):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, k, stride=stride, padding=padding, bias=not with_bn)
        if with_bn:
            self.bn = nn.BatchNorm2d(cout)
        self.with_bn = with_bn
        if act is not None:
            self.activate = act

    def forward(self, x):
        x = self.conv(x)
        if self.with_bn:
            x = self.bn(x)
        if hasattr(self, "activate"):
            x = self.activate(x)
        return x


class SELayer(nn.Module):
    """mmpose.models.utils.SELayer."""

    def __init__(self, channels, ratio, gate):
        super().__init__()
        self.global_avgpool = nn.AdaptiveAvgPool2d(1)
        self.conv1 = ConvModule(channels, int(channels / ratio), act=nn.ReLU())
        self.conv2 = ConvModule(int(channels / ratio), channels, act=gate)

    def forward(self, x):
        return x * self.conv2(self.conv1(self.global_avgpool(x)))


class ContextBlock(nn.Module):
    """mmcv.cnn.ContextBlock."""

    def __init__(self, in_channels, ratio, pooling_type="att", fusion_types=("channel_add",)):
        super().__init__()
        self.planes = int(in_channels * ratio)
        self.pooling_type = pooling_type
        if pooling_type == "att":
            self.conv_mask = nn.Conv2d(in_channels, 1, kernel_size=1)
            self.softmax = nn.Softmax(dim=2)
        else:
            self.avg_pool = nn.AdaptiveAvgPool2d(1)

        def transform():
            return nn.Sequential(nn.Conv2d(in_channels, self.planes, kernel_size=1),
                                 nn.LayerNorm([self.planes, 1, 1]), nn.ReLU(inplace=True),
                                 nn.Conv2d(self.planes, in_channels, kernel_size=1))

        self.channel_add_conv = transform() if "channel_add" in fusion_types else None
        self.channel_mul_conv = transform() if "channel_mul" in fusion_types else None

    def spatial_pool(self, x):
        batch, channel, height, width = x.size()
        if self.pooling_type == "att":
            input_x = x.view(batch, channel, height * width).unsqueeze(1)
            context_mask = self.conv_mask(x).view(batch, 1, height * width)
            context_mask = self.softmax(context_mask).unsqueeze(-1)
            return torch.matmul(input_x, context_mask).view(batch, channel, 1, 1)
        return self.avg_pool(x)

    def forward(self, x):
        context = self.spatial_pool(x)
        out = x
        if self.channel_mul_conv is not None:
            out = out * torch.sigmoid(self.channel_mul_conv(context))
        if self.channel_add_conv is not None:
            out = out + self.channel_add_conv(context)
        return out


class BasicBlock(nn.Module):
    """MMPose ResNet BasicBlock naming: conv1, bn1, conv2, bn2, downsample.{0,1}."""

    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout, momentum=0.03, eps=1e-3)
        self.relu = nn.ReLU()
        self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride=stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + self.downsample(x))


class Backbone(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 4, 3, stride=1, padding=1, bias=True)
        self.bn1 = nn.BatchNorm2d(4)
        self.act = nn.Hardswish()
        self.layer1 = nn.Sequential(BasicBlock(4, 8, 2), nn.Identity())
        self.se = SELayer(8, 4, nn.Hardsigmoid())
        self.gc = ContextBlock(8, 1 / 4)

    def forward(self, x):
        x = self.act(self.bn1(self.conv1(x)))
        return self.gc(self.se(self.layer1(x)))


class Head(nn.Module):
    def __init__(self):
        super().__init__()
        self.deconv_layers = nn.Sequential(
            nn.ConvTranspose2d(8, 6, 4, stride=2, padding=1, output_padding=0, bias=False),
            nn.BatchNorm2d(6), nn.PReLU(6))
        self.final_layer = nn.Conv2d(6, 5, 1)
        self.fc = nn.Linear(8, 5)
        self.gate = nn.Sigmoid()

    def forward(self, feats):
        heat = self.final_layer(self.deconv_layers(feats))
        # A per-channel offset from the pooled features exercises Linear inside the tree.
        offset = self.fc(feats.mean(dim=(2, 3)))
        return self.gate(heat + offset.view(offset.shape[0], -1, 1, 1))


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.backbone = Backbone()
        self.head = Head()

    def forward(self, x):
        return self.head(self.backbone(x))


def randomise(model, g):
    """Every parameter and BN statistic random, so that no name or layout error can hide behind a
    constant (mmcv's zero-initialised GC transform, BN's unit weights)."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.5)
            if name.endswith("deconv_layers.2.weight"):
                p.copy_(torch.rand(p.shape, generator=g) * 0.3)
        for name, b in model.named_buffers():
            if name.endswith("running_mean"):
                b.copy_(torch.randn(b.shape, generator=g) * 0.1)
            elif name.endswith("running_var"):
                b.copy_(torch.rand(b.shape, generator=g) + 0.5)
            elif name.endswith("num_batches_tracked"):
                b.fill_(7)


def case(prefix, model, x, g, out, meta):
    randomise(model, g)
    sd = model.state_dict()
    meta[prefix + ".order"] = json.dumps(list(sd.keys()))
    for name, t in sd.items():
        out[prefix + ".state." + name] = t.clone()
    model.train()
    x = x.clone().requires_grad_(True)
    y = model(x)
    dy = torch.randn(y.shape, generator=g)
    params = dict(model.named_parameters())
    grads = torch.autograd.grad(y, [x] + list(params.values()), dy)
    out[prefix + ".x"] = x
    out[prefix + ".y"] = y
    out[prefix + ".dy"] = dy
    out[prefix + ".dx"] = grads[0]
    for name, gr in zip(params.keys(), grads[1:]):
        out[prefix + ".grad." + name] = gr
    for name, b in model.named_buffers():
        out[prefix + ".after." + name] = b.clone()
    model.eval()
    with torch.no_grad():
        out[prefix + ".y_eval"] = model(x)


def generate(out_dir):
    g = torch.Generator().manual_seed(4)
    out, meta = {}, {}
    case("net", Net(), torch.randn(2, 3, 12, 10, generator=g), g, out, meta)
    case("se", SELayer(16, 4, nn.Sigmoid()), torch.randn(2, 16, 5, 7, generator=g), g, out, meta)
    case("se_hsig", SELayer(8, 2, nn.Hardsigmoid()), torch.randn(3, 8, 4, 4, generator=g) * 3, g, out, meta)
    # Large logits: the softmax must stay finite (the C++ side subtracts the row maximum).
    case("gc", ContextBlock(16, 1 / 4), torch.randn(2, 16, 6, 5, generator=g) * 4, g, out, meta)
    case("gc_avg_mul", ContextBlock(8, 1 / 2, "avg", ("channel_add", "channel_mul")),
         torch.randn(2, 8, 3, 4, generator=g), g, out, meta)
    save(out, out_dir + "/nn.safetensors", meta)
