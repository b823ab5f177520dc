"""SimpleBaseline parity references (tests/test_models.cpp) from MMPose 1.3.2 itself: its
TopdownPoseEstimator (ResNet backbone, HeatmapHead with three deconvolutions) built by
mmpose.apis.init_model from MMPose's td-hm_res50_8xb64-210e_coco-256x192.py with the backbone and
head arguments of one of our JSON configs (pose/models/simple_baseline.h) put in: a ResNet-50
(Bottleneck [3, 4, 6, 3]) and a ResNet-18 (BasicBlock) at 1/8 width with the three 4x4 stride-2
deconvolutions, at a reduced input size; the full model runs in the benchmark. Its names are
checked by gen_hrnet.generate_names.
"""
import json

import mmpose_ref
from model_parity import parity_case
from st import save

BASE = "body_2d_keypoint/topdown_heatmap/coco/td-hm_res50_8xb64-210e_coco-256x192.py"
SHIPPED = {"simplebaseline_res50_coco_256x192.json": BASE}

# Our defaults (pose/models/simple_baseline.h).
DEFAULTS = {"type": "simplebaseline", "num_keypoints": 17, "input_size": [256, 192], "depth": 50,
            "stem_channels": 64, "base_channels": 64, "deconv_channels": [256, 256, 256],
            "deconv_kernels": [4, 4, 4]}

SMALL = {"type": "simplebaseline", "num_keypoints": 17, "input_size": [128, 96], "depth": 50,
         "stem_channels": 8, "base_channels": 8, "deconv_channels": [16, 16, 16]}
CASES = {
    "simplebaseline_small": SMALL,
    "simplebaseline_r18_small": dict(SMALL, depth=18, num_keypoints=3),
}


def overrides(cfg):
    """MMPose's model overrides that build our JSON config `cfg`."""
    unknown = sorted(set(cfg) - set(DEFAULTS))
    if unknown:
        raise KeyError("MMPose's ResNet and HeatmapHead have no counterpart of our field '%s'" % unknown[0])
    c = dict(DEFAULTS, **cfg)
    expansion = 1 if c["depth"] in (18, 34) else 4
    backbone = dict(type="ResNet", depth=c["depth"], stem_channels=c["stem_channels"],
                    base_channels=c["base_channels"])
    head = dict(in_channels=c["base_channels"] * 8 * expansion, out_channels=c["num_keypoints"],
                deconv_out_channels=tuple(c["deconv_channels"]), deconv_kernel_sizes=tuple(c["deconv_kernels"]))
    return dict(backbone=backbone, head=head)


def build(cfg):
    """MMPose's TopdownPoseEstimator for our JSON config."""
    return mmpose_ref.init_model(mmpose_ref.load_config(BASE, **overrides(cfg)))


def generate(out):
    if not mmpose_ref.available("SimpleBaseline references"):
        return
    with mmpose_ref.one_thread():
        for seed, (name, cfg) in enumerate(sorted(CASES.items())):
            t = parity_case(build(cfg), cfg["input_size"], batch=2, seed=200 + seed)
            save(t, "%s/%s.safetensors" % (out, name), metadata={"config": json.dumps(cfg)})
