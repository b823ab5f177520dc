"""S-ViPNAS parity references (tests/test_vipnas.cpp) from the real MMPose 1.3.2: its
ViPNAS_ResNet, ViPNAS_MobileNetV3 and ViPNASHead, built by mmpose.apis.init_model from MMPose's own
configs (td-hm_vipnas-{res50,mbv3}_8xb64-210e_coco-256x192.py) with the backbone and head
arguments of one of our JSON configs (pose/models/vipnas_config.h) put in.

- vipnas_res50_ref, vipnas_mbv3_ref: reduced widths and depths covering every kind of block
  (grouped and depthwise convs, GC and SE attention on and off, expansion 1 and more, strided and
  width-changing shortcuts, HSwish and ReLU stages, grouped and depthwise deconvolutions) at
  96x64 (H != W), with seeded random weights, LayerNorm affines and BN running statistics. Saved:
  the state_dict, the input, eval-mode heatmaps, random targets and weights, MMPose's
  KeypointMSELoss(use_target_weight=True) and every parameter gradient in eval-mode and training
  BN, and the running statistics after the training step (keys as models_ref.parity_case).
- vipnas_model_names: for every configs/vipnas_*.json, metadata[file name] = MMPose's
  state_dict as JSON {name: shape}; for the four full configs the model of MMPose's shipped
  config itself (COCO 17 or COCO-WholeBody 133 keypoints), which must also print (repr: every
  kernel, stride, group count and activation) as the model our JSON describes.
"""
import copy
import json
import pathlib

import torch
import torch.nn as nn

import mmpose_ref
from st import save

CONFIG_DIR = pathlib.Path(__file__).resolve().parents[2] / "configs"
BASE = {
    "vipnas_resnet": "body_2d_keypoint/topdown_heatmap/coco/td-hm_vipnas-res50_8xb64-210e_coco-256x192.py",
    "vipnas_mbv3": "body_2d_keypoint/topdown_heatmap/coco/td-hm_vipnas-mbv3_8xb64-210e_coco-256x192.py",
}
WHOLEBODY = "wholebody_2d_keypoint/topdown_heatmap/coco-wholebody/td-hm_vipnas-%s_8xb64-210e_coco-wholebody-256x192.py"
SHIPPED = {
    "vipnas_res50_coco_256x192.json": BASE["vipnas_resnet"],
    "vipnas_mbv3_coco_256x192.json": BASE["vipnas_mbv3"],
    "vipnas_res50_wholebody_256x192.json": WHOLEBODY % "res50",
    "vipnas_mbv3_wholebody_256x192.json": WHOLEBODY % "mbv3",
}

RES50_REF = {
    "type": "vipnas_resnet", "num_keypoints": 5, "input_size": [96, 64], "depth": 50,
    "wid": [8, 16, 16, 24, 32], "expan": [1, 1, 2, 1], "dep": [2, 1, 2, 1], "ks": [7, 3, 5, 3, 5],
    "group": [4, 2, 4, 8], "att": [True, False, True, True], "strides": [1, 2, 2, 2],
    "deconv_channels": [16, 16, 16], "deconv_kernels": [4, 4, 4], "deconv_groups": [4, 2, 16],
}
MBV3_REF = {
    "type": "vipnas_mbv3", "num_keypoints": 5, "input_size": [96, 64],
    "wid": [8, 8, 12, 16, 16, 24, 32], "expan": [1, 2, 3, 2, 2, 3], "dep": [1, 2, 2, 1, 2, 1],
    "ks": [3, 3, 5, 3, 5, 3, 5], "group": [4, 24, 12, 8, 24, 96], "att": [True, True, False, True, True, True],
    "stride": [2, 1, 2, 2, 2, 1, 2], "act": ["HSwish", "ReLU", "ReLU", "ReLU", "HSwish", "HSwish", "HSwish"],
    "deconv_channels": [16, 16, 16], "deconv_kernels": [4, 4, 4], "deconv_groups": [16, 16, 16],
}
CASES = {"vipnas_res50_ref": RES50_REF, "vipnas_mbv3_ref": MBV3_REF}


def overrides(cfg):
    """MMPose's backbone and head arguments for our JSON config (every field present): our stage
    arrays get back MMPose's leading None."""
    if cfg["type"] == "vipnas_resnet":
        backbone = dict(type="ViPNAS_ResNet", depth=cfg["depth"], wid=cfg["wid"], ks=cfg["ks"],
                        expan=[None] + cfg["expan"], dep=[None] + cfg["dep"], group=[None] + cfg["group"],
                        att=[None] + cfg["att"], strides=tuple(cfg["strides"]))
        in_channels = cfg["wid"][4] * cfg["expan"][3]
    else:
        backbone = dict(type="ViPNAS_MobileNetV3", wid=cfg["wid"], ks=cfg["ks"], stride=cfg["stride"],
                        act=cfg["act"], expan=[None] + cfg["expan"], dep=[None] + cfg["dep"],
                        group=[None] + cfg["group"], att=[None] + cfg["att"])
        in_channels = cfg["wid"][6]
    head = dict(in_channels=in_channels, out_channels=cfg["num_keypoints"],
                deconv_out_channels=tuple(cfg["deconv_channels"]), deconv_kernel_sizes=tuple(cfg["deconv_kernels"]),
                deconv_num_groups=tuple(cfg["deconv_groups"]))
    return dict(backbone=backbone, head=head)


def build(cfg):
    """MMPose's TopdownPoseEstimator for our JSON config."""
    return mmpose_ref.init_model(mmpose_ref.load_config(BASE[cfg["type"]], **overrides(cfg)))


def heatmaps(model, x):
    return model.head(model.backbone(x))


def kinks():
    """Module type -> the input values where its derivative jumps (mmcv's HSigmoid per instance)."""
    from mmcv.cnn.bricks.hsigmoid import HSigmoid
    return [(nn.ReLU, lambda m: (0.0,)), (nn.ReLU6, lambda m: (0.0, 6.0)), (nn.Hardswish, lambda m: (-3.0, 3.0)),
            (HSigmoid, lambda m: (-m.bias, m.divisor - m.bias))]


def kink_margin(model, x):
    """The smallest distance of any activation input in model(x) from a kink of that activation."""
    smallest = [float("inf")]
    hooks = []
    table = kinks()
    for m in model.modules():
        for kind, points in table:
            if isinstance(m, kind):
                def hook(mod, inputs, points=points(m)):
                    t = inputs[0].detach()
                    smallest[0] = min([smallest[0]] + [(t - p).abs().min().item() for p in points])
                hooks.append(m.register_forward_pre_hook(hook))
                break
    try:
        with torch.no_grad():
            heatmaps(model, x)
    finally:
        for h in hooks:
            h.remove()
    return smallest[0]


def randomize(model, g):
    """Weights that keep eval-mode activations of order one: He-scaled convs (a transposed conv's
    fan-in counted per output pixel), BN affines and running statistics and LayerNorm affines away
    from their identity values."""
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.Conv2d):
                m.weight.copy_(torch.randn(m.weight.shape, generator=g) * (2.0 / m.weight[0].numel()) ** 0.5)
            elif isinstance(m, nn.ConvTranspose2d):
                fan_in = m.in_channels // m.groups * m.weight[0, 0].numel() / (m.stride[0] * m.stride[1])
                m.weight.copy_(torch.randn(m.weight.shape, generator=g) * (2.0 / fan_in) ** 0.5)
            elif isinstance(m, nn.BatchNorm2d):
                c = m.num_features
                m.weight.copy_(torch.rand(c, generator=g) * 0.5 + 0.5)
                m.bias.copy_(torch.randn(c, generator=g) * 0.1)
                m.running_mean.copy_(torch.randn(c, generator=g) * 0.1)
                m.running_var.copy_(torch.rand(c, generator=g) + 0.5)
            elif isinstance(m, nn.LayerNorm):
                m.weight.copy_(torch.rand(m.weight.shape, generator=g) * 0.5 + 0.5)
                m.bias.copy_(torch.randn(m.bias.shape, generator=g) * 0.1)
            if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)) and m.bias is not None:
                m.bias.copy_(torch.randn(m.bias.shape, generator=g) * 0.1)


KINK_MARGIN = 3e-6


def parity_case(cfg, batch, seed):
    """As models_ref.parity_case, for MMPose's model: f64 oracle from f32 weights; draws are redrawn
    until no activation input of the eval-mode forward lies within KINK_MARGIN of a kink (ReLU's
    0, HSwish's +-3, the SE gate's HSigmoid(1, 2) at +-1), where f32 rounding could switch the
    gradient path."""
    template = build(cfg)
    for attempt in range(200):
        g = torch.Generator().manual_seed(seed + 1000 * attempt)
        model = copy.deepcopy(template)
        randomize(model, g)
        h, w = cfg["input_size"]
        x = torch.randn(batch, 3, h, w, generator=g).float()
        if kink_margin(copy.deepcopy(model).double().eval(), x.double()) >= KINK_MARGIN:
            break
    else:
        raise RuntimeError("no draw with a kink margin of %g in 200 attempts" % KINK_MARGIN)
    # Floating tensors as f32, integer ones (num_batches_tracked) as they are: a strict load checks dtypes.
    state = {k: v.detach().clone().float() if v.is_floating_point() else v.detach().clone()
             for k, v in model.state_dict().items()}
    model = model.double()
    loss_module = model.head.loss_module
    assert type(loss_module).__name__ == "KeypointMSELoss" and loss_module.use_target_weight
    model.eval()
    with torch.no_grad():
        out_eval = heatmaps(model, x.double())
    k = cfg["num_keypoints"]
    target = torch.rand(out_eval.shape, generator=g)
    weight = (torch.rand(batch, k, generator=g) > 0.2).double() * torch.rand(batch, k, generator=g).double()
    params = dict(model.named_parameters())
    eval_loss = loss_module(heatmaps(model, x.double()), target.double(), weight)
    eval_grads = torch.autograd.grad(eval_loss, list(params.values()))
    model.train()
    out_train = heatmaps(model, x.double())
    loss = loss_module(out_train, target.double(), weight)
    grads = torch.autograd.grad(loss, list(params.values()))
    t = dict(state)
    t.update({"input": x, "target": target.float(), "target_weight": weight.float(),
              "output": out_eval.float(), "train_output": out_train.detach().float(), "loss": loss.detach().float(),
              "eval_loss": eval_loss.detach().float()})
    for name, gr, ge in zip(params, grads, eval_grads):
        t["grad." + name] = gr.float()
        t["eval_grad." + name] = ge.float()
    for name, buf in model.named_buffers():
        if buf.dtype.is_floating_point:
            t["after." + name] = buf.float()
    return t


def generate(out):
    # One thread: these convolutions are so small that handing them to a second thread costs more
    # than the work (a forward of the MobileNetV3 reference took 4 s of CPU with two threads on a
    # busy two-core machine, 0.02 s with one).
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        for seed, (name, cfg) in enumerate(sorted(CASES.items())):
            t = parity_case(cfg, batch=2, seed=300 + seed)
            save(t, "%s/%s.safetensors" % (out, name), metadata={"config": json.dumps(cfg)})
        generate_names(out)
    finally:
        torch.set_num_threads(threads)


def generate_names(out):
    meta = {}
    for path in sorted(CONFIG_DIR.glob("vipnas_*.json")):
        with open(path) as f:
            cfg = json.load(f)
        ours = build(cfg)
        if path.name in SHIPPED:
            shipped = mmpose_ref.init_model(mmpose_ref.load_config(SHIPPED[path.name]))
            if repr(shipped) != repr(ours):
                raise AssertionError("%s does not describe MMPose's %s" % (path, SHIPPED[path.name]))
            ours = shipped
        meta[path.name] = json.dumps({k: list(v.shape) for k, v in ours.state_dict().items()})
    save({}, out + "/vipnas_model_names.safetensors", metadata=meta)
