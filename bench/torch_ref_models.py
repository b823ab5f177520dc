"""Plain PyTorch HRNet (V1 heatmap head or the HRNetV2 representation head) and SimpleBaseline
(ResNet + 3-deconv head) with MMPose 1.x's parameter names, for bench/torch_model_bench.py only.

The GPU machine that runs scripts/gpu-check.sh has PyTorch but not MMPose (.pydeps/mmpose, 189 MB,
does not travel), and its HRNet benchmark needs a PyTorch side; this module needs nothing but
torch. It is not an oracle: the tests compare ours with MMPose's own models
(tests/reference/gen_hrnet.py, gen_simplebaseline.py). The benchmark loads our weights into it
strictly, which checks its names and shapes on every run.

Models are built from the same JSON dictionaries as the C++ configs (configs/*.json); a missing key
takes the default below, an unknown key is an error, as in pose/models/.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

HRNET_DEFAULTS = {
    "type": "hrnet", "num_keypoints": 17, "input_size": [256, 192], "width": 32, "stem_channels": 64,
    "stage1_blocks": 4, "stage1_channels": 64, "num_modules": [1, 4, 3], "num_blocks": [4, 4, 4],
    "head": "heatmap", "upsample": "nearest",
}
SIMPLEBASELINE_DEFAULTS = {
    "type": "simplebaseline", "num_keypoints": 17, "input_size": [256, 192], "depth": 50,
    "stem_channels": 64, "base_channels": 64, "deconv_channels": [256, 256, 256],
    "deconv_kernels": [4, 4, 4],
}
RESNET_BLOCKS = {18: ("basic", [2, 2, 2, 2]), 34: ("basic", [3, 4, 6, 3]), 50: ("bottleneck", [3, 4, 6, 3]),
                 101: ("bottleneck", [3, 4, 23, 3]), 152: ("bottleneck", [3, 8, 36, 3])}


def complete_config(cfg):
    """The config with defaults filled in; unknown keys raise."""
    defaults = {"hrnet": HRNET_DEFAULTS, "simplebaseline": SIMPLEBASELINE_DEFAULTS}[cfg.get("type", "hrnet")]
    unknown = sorted(set(cfg) - set(defaults))
    if unknown:
        raise KeyError("model config: unknown key '%s'" % unknown[0])
    out = dict(defaults)
    out.update(cfg)
    return out


def conv3x3(cin, cout, stride=1):
    return nn.Conv2d(cin, cout, 3, stride, 1, bias=False)


def conv1x1(cin, cout, stride=1):
    return nn.Conv2d(cin, cout, 1, stride, 0, bias=False)


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, cin, planes, stride=1, downsample=None):
        super().__init__()
        self.conv1, self.bn1 = conv3x3(cin, planes, stride), nn.BatchNorm2d(planes)
        self.conv2, self.bn2 = conv3x3(planes, planes), nn.BatchNorm2d(planes)
        self.downsample = downsample

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        identity = x if self.downsample is None else self.downsample(x)
        return F.relu(out + identity)


class Bottleneck(nn.Module):
    """MMPose ResNet's 'pytorch' style: the stride sits on the 3x3 conv."""
    expansion = 4

    def __init__(self, cin, planes, stride=1, downsample=None):
        super().__init__()
        self.conv1, self.bn1 = conv1x1(cin, planes), nn.BatchNorm2d(planes)
        self.conv2, self.bn2 = conv3x3(planes, planes, stride), nn.BatchNorm2d(planes)
        self.conv3, self.bn3 = conv1x1(planes, planes * 4), nn.BatchNorm2d(planes * 4)
        self.downsample = downsample

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = F.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        identity = x if self.downsample is None else self.downsample(x)
        return F.relu(out + identity)


def make_layer(block, cin, planes, blocks, stride=1):
    downsample = None
    if stride != 1 or cin != planes * block.expansion:
        downsample = nn.Sequential(conv1x1(cin, planes * block.expansion, stride),
                                   nn.BatchNorm2d(planes * block.expansion))
    layers = [block(cin, planes, stride, downsample)]
    layers += [block(planes * block.expansion, planes) for _ in range(1, blocks)]
    return nn.Sequential(*layers)


class HRModule(nn.Module):
    def __init__(self, channels, num_blocks, multiscale_output, upsample):
        super().__init__()
        n = len(channels)
        self.branches = nn.ModuleList(make_layer(BasicBlock, c, c, num_blocks) for c in channels)
        self.fuse_layers = nn.ModuleList()
        for i in range(n if multiscale_output else 1):
            row = nn.ModuleList()
            for j in range(n):
                if j > i:
                    # "bilinear" is align_corners=False, as MMPose's HRNetV2 configs set it.
                    up = nn.Upsample(scale_factor=2 ** (j - i), mode=upsample,
                                     align_corners=False if upsample == "bilinear" else None)
                    row.append(nn.Sequential(conv1x1(channels[j], channels[i]), nn.BatchNorm2d(channels[i]), up))
                elif j == i:
                    row.append(None)
                else:
                    steps = []
                    for k in range(i - j):
                        last = k == i - j - 1
                        cout = channels[i] if last else channels[j]
                        step = [conv3x3(channels[j], cout, 2), nn.BatchNorm2d(cout)]
                        if not last:
                            step.append(nn.ReLU())
                        steps.append(nn.Sequential(*step))
                    row.append(nn.Sequential(*steps))
            self.fuse_layers.append(row)

    def forward(self, xs):
        xs = [b(x) for b, x in zip(self.branches, xs)]
        out = []
        for i, row in enumerate(self.fuse_layers):
            y = 0
            for j, x in enumerate(xs):
                y = y + (x if i == j else row[j](x))
            out.append(F.relu(y))
        return out


def make_transition(pre, cur):
    layers = nn.ModuleList()
    for i, c in enumerate(cur):
        if i < len(pre):
            layers.append(None if c == pre[i] else
                          nn.Sequential(conv3x3(pre[i], c), nn.BatchNorm2d(c), nn.ReLU()))
        else:
            # A new branch comes from the lowest-resolution input only (official code, not the paper).
            steps = []
            for k in range(i + 1 - len(pre)):
                cout = c if k == i - len(pre) else pre[-1]
                steps.append(nn.Sequential(conv3x3(pre[-1], cout, 2), nn.BatchNorm2d(cout), nn.ReLU()))
            layers.append(nn.Sequential(*steps))
    return layers


class HRNet(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        c = cfg["width"]
        stem = cfg["stem_channels"]
        self.conv1, self.bn1 = conv3x3(3, stem, 2), nn.BatchNorm2d(stem)
        self.conv2, self.bn2 = conv3x3(stem, stem, 2), nn.BatchNorm2d(stem)
        self.layer1 = make_layer(Bottleneck, stem, cfg["stage1_channels"], cfg["stage1_blocks"])
        pre = [cfg["stage1_channels"] * Bottleneck.expansion]
        multiscale_last = cfg["head"] == "v2"
        for s in range(3):
            cur = [c * 2 ** b for b in range(s + 2)]
            setattr(self, "transition%d" % (s + 1), make_transition(pre, cur))
            modules = []
            for m in range(cfg["num_modules"][s]):
                last = s == 2 and m == cfg["num_modules"][s] - 1
                modules.append(HRModule(cur, cfg["num_blocks"][s], multiscale_output=multiscale_last or not last,
                                        upsample=cfg["upsample"]))
            setattr(self, "stage%d" % (s + 2), nn.Sequential(*modules))
            pre = cur

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        x = F.relu(self.bn2(self.conv2(x)))
        xs = [self.layer1(x)]
        for s in range(3):
            transition = getattr(self, "transition%d" % (s + 1))
            ins = []
            for i, t in enumerate(transition):
                src = xs[min(i, len(xs) - 1)]
                ins.append(src if t is None else t(src))
            for module in getattr(self, "stage%d" % (s + 2)):
                ins = module(ins)
            xs = ins
        return xs


class HeatmapHead(nn.Module):
    """MMPose 1.x HeatmapHead: optional deconv layers (deconv + BN + ReLU), optional 1x1 conv layers
    (conv + BN + ReLU, used by the HRNetV2 head), then final_layer, a 1x1 conv with bias."""

    def __init__(self, cin, k, deconv_channels=(), deconv_kernels=(), conv_channels=()):
        super().__init__()
        if deconv_channels:
            layers = []
            for cout, kernel in zip(deconv_channels, deconv_kernels):
                padding, output_padding = {4: (1, 0), 3: (1, 1), 2: (0, 0)}[kernel]
                layers += [nn.ConvTranspose2d(cin, cout, kernel, 2, padding, output_padding, bias=False),
                           nn.BatchNorm2d(cout), nn.ReLU()]
                cin = cout
            self.deconv_layers = nn.Sequential(*layers)
        if conv_channels:
            layers = []
            for cout in conv_channels:
                layers += [nn.Conv2d(cin, cout, 1, bias=True), nn.BatchNorm2d(cout), nn.ReLU()]
                cin = cout
            self.conv_layers = nn.Sequential(*layers)
        self.final_layer = nn.Conv2d(cin, k, 1)

    def forward(self, x):
        if hasattr(self, "deconv_layers"):
            x = self.deconv_layers(x)
        if hasattr(self, "conv_layers"):
            x = self.conv_layers(x)
        return self.final_layer(x)


class ResNet(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        kind, blocks = RESNET_BLOCKS[cfg["depth"]]
        block = BasicBlock if kind == "basic" else Bottleneck
        stem, base = cfg["stem_channels"], cfg["base_channels"]
        self.conv1, self.bn1 = nn.Conv2d(3, stem, 7, 2, 3, bias=False), nn.BatchNorm2d(stem)
        cin = stem
        for i, n in enumerate(blocks):
            planes = base * 2 ** i
            setattr(self, "layer%d" % (i + 1), make_layer(block, cin, planes, n, 1 if i == 0 else 2))
            cin = planes * block.expansion
        self.out_channels = cin

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        x = F.max_pool2d(x, 3, 2, 1)
        for i in range(4):
            x = getattr(self, "layer%d" % (i + 1))(x)
        return x


class TopDownModel(nn.Module):
    """backbone + head, as MMPose's TopdownPoseEstimator names them."""

    def __init__(self, cfg):
        super().__init__()
        cfg = complete_config(cfg)
        self.cfg = cfg
        k = cfg["num_keypoints"]
        if cfg["type"] == "hrnet":
            self.backbone = HRNet(cfg)
            widths = [cfg["width"] * 2 ** b for b in range(4)]
            if cfg["head"] == "v2":
                self.head = HeatmapHead(sum(widths), k, conv_channels=(sum(widths),))
            else:
                self.head = HeatmapHead(widths[0], k)
        else:
            self.backbone = ResNet(cfg)
            self.head = HeatmapHead(self.backbone.out_channels, k, cfg["deconv_channels"], cfg["deconv_kernels"])

    def forward(self, x):
        feats = self.backbone(x)
        if self.cfg["type"] == "hrnet":
            if self.cfg["head"] == "v2":
                # MMPose's FeatureMapProcessor(concat=True): bilinear, align_corners=False.
                size = feats[0].shape[2:]
                feats = torch.cat([feats[0]] + [F.interpolate(f, size=size, mode="bilinear", align_corners=False)
                                                for f in feats[1:]], dim=1)
            else:
                feats = feats[0]
        return self.head(feats)


def build(cfg):
    return TopDownModel(cfg)
