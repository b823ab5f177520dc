"""MSPN parity references (tests/test_mspn.cpp) from MMPose 1.3.2 itself: its TopdownPoseEstimator
built from its shipped 2-stage config (td-hm_2xmspn50_8xb32-210e_coco-256x192.py) with the widths
and depths reduced to what runs in a second (2 units of one Bottleneck each, 16-channel up path:
the cross-stage skips, the cross conv, the up-path resize and the per-unit heads all present) at a
48x40 input; its own MSPNHead.loss on random 3-level targets with per-level keypoint weights, and
every parameter gradient of that loss in eval and training mode, and the BN running statistics
after the training-mode step.

MMPose's down path is 256 * 2^u channels wide whatever the config says (its ResNetTop and cross
conv ignore res_top_channels), hence units rather than widths are reduced.

mspn_names.safetensors: metadata[config] = {name: shape} of MMPose's full-size models (1-4 stages
at 17 keypoints, 4 stages at 133), and of every configs/*mspn*.json, built without initialising
their weights (construction only).
"""
import json
import pathlib

import torch

import mmpose_ref
from model_parity import screened_draw, state_of
from st import save

COCO = "body_2d_keypoint/topdown_heatmap/coco/td-hm_%smspn50_8xb32-210e_coco-256x192.py"
STAGE_PREFIX = {1: "", 2: "2x", 3: "3x", 4: "4x"}

# Our JSON for the parity model (pose/models/mspn.h); the MMPose overrides below build the same.
SMALL = {"type": "mspn", "num_keypoints": 17, "input_size": [48, 40], "out_shape": [12, 10], "num_stages": 2,
         "num_units": 2, "num_blocks": [1, 1], "unit_channels": 16}


def mmpose_overrides(cfg):
    """model overrides of MMPose's config that build our JSON config `cfg` (defaults as ours)."""
    stages, units = cfg.get("num_stages", 4), cfg.get("num_units", 4)
    unit_channels = cfg.get("unit_channels", 256)
    h, w = cfg.get("input_size", [256, 192])
    out_shape = tuple(cfg.get("out_shape", [h // 4, w // 4]))
    mse = dict(type="KeypointMSELoss", use_target_weight=True, loss_weight=0.25)
    ohkm = dict(type="KeypointOHKMMSELoss", use_target_weight=True, loss_weight=1.0)
    shift = 1 if stages > 1 else 0
    levels = list(range(units)) * (stages - 1) + [shift + u for u in range(units)]
    backbone = dict(num_stages=stages, num_units=units, unit_channels=unit_channels,
                    num_blocks=cfg.get("num_blocks", [3, 4, 6, 3]), res_top_channels=cfg.get("res_top_channels", 64))
    head = dict(num_stages=stages, num_units=units, unit_channels=unit_channels, out_shape=out_shape,
                out_channels=cfg.get("num_keypoints", 17), level_indices=levels,
                loss=([mse] * (units - 1) + [ohkm]) * stages)
    return stages, backbone, head


def build(cfg):
    """MMPose's TopdownPoseEstimator for our JSON config."""
    stages, backbone, head = mmpose_overrides(cfg)
    return mmpose_ref.init_model(mmpose_ref.load_config(COCO % STAGE_PREFIX[min(stages, 4)], backbone=backbone,
                                                        head=head))


def samples(targets, weights):
    """PoseDataSamples as MMPose's pipeline packs multilevel Megvii targets: gt_fields[l].heatmaps
    [K, h, w], gt_instance_labels.keypoint_weights [L, 1, K]."""
    from mmengine.structures import InstanceData
    from mmpose.structures import MultilevelPixelData, PoseDataSample
    out = []
    for n in range(targets.shape[0]):
        d = PoseDataSample()
        d.gt_fields = MultilevelPixelData(heatmaps=[targets[n, l] for l in range(targets.shape[1])])
        d.gt_instance_labels = InstanceData(keypoint_weights=weights[n][:, None, :])
        out.append(d)
    return out


def parity_case(cfg, batch, seed):
    """As model_parity.parity_case (its screening and f64 oracle), with MSPN's outputs, multilevel
    targets and MSPNHead.loss."""
    model = build(cfg)
    h, w = cfg["input_size"]
    x, g = screened_draw(model, (batch, 3, h, w), seed)
    state = state_of(model)
    model = model.double().eval()
    xd = x.double()
    with torch.no_grad():
        outputs = model(xd, None)  # mode "tensor": MSPNHead.forward's list
    levels, k = 1 + max(model.head.level_indices), cfg["num_keypoints"]
    oh, ow = outputs[0].shape[2:]
    targets = torch.rand(batch, levels, k, oh, ow, generator=g).double()
    weights = (torch.rand(batch, levels, k, generator=g) > 0.2).double() * torch.rand(batch, levels, k, generator=g)
    weights = weights.double()
    params = dict(model.named_parameters())

    def loss_of():  # TopdownPoseEstimator.loss: extract_feat, then MSPNHead.loss
        return model(xd, samples(targets, weights), mode="loss")["loss_kpt"]

    eval_loss = loss_of()
    eval_grads = torch.autograd.grad(eval_loss, list(params.values()))
    model.train()
    loss = loss_of()
    grads = torch.autograd.grad(loss, list(params.values()))
    t = dict(state)
    t.update({"input": x, "target": targets.float(), "target_weight": weights.float(), "loss": loss.detach().float(),
              "eval_loss": eval_loss.detach().float()})
    for name, buf in model.named_buffers():
        if name in state and buf.dtype.is_floating_point:
            t["after." + name] = buf.float()  # running statistics after the training-mode step
    for i, y in enumerate(outputs):
        t["output.%d" % i] = y.float()
    for name, gr, ge in zip(params, grads, eval_grads):
        t["grad." + name] = gr.float()
        t["eval_grad." + name] = ge.float()
    return t


def generate(out):
    if not mmpose_ref.available("MSPN references"):
        return
    with mmpose_ref.one_thread():
        t = parity_case(SMALL, batch=2, seed=400)
        save(t, "%s/mspn_small.safetensors" % out, metadata={"config": json.dumps(SMALL)})
        generate_names(out)


def generate_names(out):
    configs = pathlib.Path(__file__).resolve().parents[2] / "configs"
    cases = {"%dxmspn50_coco" % s: {"num_stages": s} for s in (1, 2, 3, 4)}
    cases["4xmspn50_wholebody"] = {"num_stages": 4, "num_keypoints": 133}
    for path in sorted(configs.glob("*.json")):
        cfg = json.loads(path.read_text())
        if cfg.get("type") == "mspn":
            cases[path.name] = cfg
    meta, cache = {}, {}
    with mmpose_ref.no_init():
        for name, cfg in cases.items():
            key = json.dumps({k: v for k, v in cfg.items() if k not in ("input_size", "out_shape")}, sort_keys=True)
            if key not in cache:
                cache[key] = json.dumps({k: list(v.shape) for k, v in build(cfg).state_dict().items()})
            meta[name] = cache[key]
    save({}, out + "/mspn_names.safetensors", metadata=meta)
