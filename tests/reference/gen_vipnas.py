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
  BN, and the running statistics after the training step (model_parity.parity_case).
- vipnas_model_names: for every configs/vipnas_*.json, metadata[file name] = MMPose's
  state_dict as JSON {name: shape}; for the four full configs the model of MMPose's shipped
  config itself (COCO 17 or COCO-WholeBody 133 keypoints), which must also print (repr: every
  kernel, stride, group count and activation) as the model our JSON describes.
"""
import json
import pathlib

import mmpose_ref
from model_parity import parity_case
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


def generate(out):
    if not mmpose_ref.available("S-ViPNAS references"):
        return
    # One thread (mmpose_ref.one_thread): a forward of the MobileNetV3 reference took 4 s of CPU
    # with two threads on a busy two-core machine, 0.02 s with one.
    with mmpose_ref.one_thread():
        for seed, (name, cfg) in enumerate(sorted(CASES.items())):
            t = parity_case(build(cfg), cfg["input_size"], batch=2, seed=300 + seed)
            save(t, "%s/%s.safetensors" % (out, name), metadata={"config": json.dumps(cfg)})
        generate_names(out)


def generate_names(out):
    meta = {}
    for path in sorted(CONFIG_DIR.glob("vipnas_*.json")):
        with open(path) as f:
            cfg = json.load(f)
        meta[path.name] = mmpose_ref.state_shapes(build(cfg), path, SHIPPED)
    save({}, out + "/vipnas_model_names.safetensors", metadata=meta)
