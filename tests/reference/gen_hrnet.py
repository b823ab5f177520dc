"""HRNet parity references (tests/test_models.cpp) from MMPose 1.3.2 itself: its TopdownPoseEstimator
built by mmpose.apis.init_model from MMPose's own configs with the backbone and head arguments of
one of our JSON configs (pose/models/hrnet.h) put in.

- hrnet_small (V1: HeatmapHead on the top branch), from td-hm_hrnet-w32_8xb64-210e_coco-256x192.py;
- hrnet_v2_small (V2: stage 4 keeps every branch, MMPose's FeatureMapProcessor(concat=True) resizes
  them bilinearly to the top one and concatenates, and a HeatmapHead with one 1x1 conv + BN + ReLU
  before its final layer), from MMPose's HRNetV2 face config
  td-hm_hrnetv2-w18_8xb32-60e_coco-wholebody-face-256x256.py with its fuse layers' upsampling as
  shipped: bilinear, align_corners=False (all 18 of MMPose's HRNetV2 configs, face and hand, set
  the backbone's upsample=dict(mode='bilinear', align_corners=False); our "upsample": "bilinear").
Reduced width and depth and a 96x64 input (HRNet's fuse layers need sides divisible by 32; H != W
catches swapped axes), so that the C++ forward and backward run in about a second on two cores; the
structure (stem, Bottleneck layer1, three transitions, multi-module stages with up- and multi-step
downsampling fuse layers, single-output last module or the V2 concat head) is that of the full
models. MMPose's HRNet stem is 64 channels wide whatever the config says, so the small models keep
that width.

Our "upsample" field becomes the backbone's extra.upsample whatever MMPose's config says: "bilinear"
as the HRNetV2 configs ship it, "nearest" (our default, MMPose's default and every HRNetV1 config's)
even over an HRNetV2 config, so that the model built is always the one our JSON describes. The
nearest fuse layers are compared by hrnet_small.

model_names.safetensors: for every configs/*.json of type hrnet or simplebaseline, metadata[file
name] = MMPose's state_dict as JSON {name: shape}; for the configs that MMPose ships, the model of
MMPose's shipped config itself, which must also print (repr: every layer and its arguments) as the
model our JSON describes. Built without initialising their weights (construction only).
"""
import json
import pathlib

import gen_simplebaseline
import mmpose_ref
from model_parity import parity_case
from st import save

COCO = "body_2d_keypoint/topdown_heatmap/coco/td-hm_hrnet-%s-210e_coco-%s.py"
WHOLEBODY = "wholebody_2d_keypoint/topdown_heatmap/coco-wholebody/td-hm_hrnet-%s-210e_coco-wholebody-%s.py"
V1 = COCO % ("w32_8xb64", "256x192")
V2 = "face_2d_keypoint/topdown_heatmap/coco_wholebody_face/td-hm_hrnetv2-w18_8xb32-60e_coco-wholebody-face-256x256.py"
SHIPPED = {}
for _w, _batch in (("w32", "8xb64"), ("w48", "8xb32")):
    for _size in ("256x192", "384x288"):
        SHIPPED["hrnet_%s_coco_%s.json" % (_w, _size)] = COCO % (_w + "_" + _batch, _size)
        SHIPPED["hrnet_%s_wholebody_%s.json" % (_w, _size)] = WHOLEBODY % (_w + "_" + _batch, _size)

# Our defaults (pose/models/hrnet.h) for the fields MMPose's HRNet can express.
DEFAULTS = {"type": "hrnet", "num_keypoints": 17, "input_size": [256, 192], "width": 32, "stem_channels": 64,
            "stage1_blocks": 4, "stage1_channels": 64, "num_modules": [1, 4, 3], "num_blocks": [4, 4, 4],
            "head": "heatmap", "upsample": "nearest"}

SMALL = {"type": "hrnet", "num_keypoints": 17, "input_size": [96, 64], "width": 8, "stem_channels": 64,
         "stage1_blocks": 2, "stage1_channels": 16, "num_modules": [1, 2, 1], "num_blocks": [2, 1, 2]}
CASES = {
    "hrnet_small": SMALL,
    "hrnet_v2_small": dict(SMALL, head="v2", num_keypoints=5, upsample="bilinear"),
}


def overrides(cfg):
    """(MMPose config, model overrides) that build our JSON config `cfg`."""
    unknown = sorted(set(cfg) - set(DEFAULTS))
    if unknown:
        raise KeyError("MMPose's HRNet has no counterpart of our field '%s'" % unknown[0])
    c = dict(DEFAULTS, **cfg)
    if c["stem_channels"] != 64:
        raise ValueError("MMPose's HRNet stem is 64 channels wide, not %d" % c["stem_channels"])
    extra = {"stage1": dict(num_modules=1, num_branches=1, block="BOTTLENECK", num_blocks=(c["stage1_blocks"],),
                            num_channels=(c["stage1_channels"],))}
    for s in range(3):
        n = s + 2
        extra["stage%d" % n] = dict(num_modules=c["num_modules"][s], num_branches=n, block="BASIC",
                                    num_blocks=(c["num_blocks"][s],) * n,
                                    num_channels=tuple(c["width"] << b for b in range(n)))
    if c["upsample"] not in ("nearest", "bilinear"):
        raise ValueError("unknown HRNet upsample mode '%s'" % c["upsample"])
    # torch's nearest mode takes no align_corners (None); bilinear is align_corners=False, as MMPose ships it.
    extra["upsample"] = dict(mode=c["upsample"], align_corners=False if c["upsample"] == "bilinear" else None)
    backbone = dict(type="HRNet", in_channels=3, extra=extra)
    if c["head"] == "v2":
        extra["stage4"]["multiscale_output"] = True
        concat = 15 * c["width"]
        head = dict(in_channels=concat, out_channels=c["num_keypoints"], deconv_out_channels=None,
                    conv_out_channels=(concat,), conv_kernel_sizes=(1,))
        return V2, dict(backbone=backbone, neck=dict(type="FeatureMapProcessor", concat=True), head=head)
    if c["head"] != "heatmap":
        raise ValueError("unknown HRNet head '%s'" % c["head"])
    return V1, dict(backbone=backbone, head=dict(in_channels=c["width"], out_channels=c["num_keypoints"],
                                                 deconv_out_channels=None))


def build(cfg):
    """MMPose's TopdownPoseEstimator for our JSON config."""
    base, model = overrides(cfg)
    return mmpose_ref.init_model(mmpose_ref.load_config(base, **model))


def generate(out):
    if not mmpose_ref.available("HRNet references"):
        return
    with mmpose_ref.one_thread():
        for seed, (name, cfg) in enumerate(sorted(CASES.items())):
            t = parity_case(build(cfg), cfg["input_size"], batch=2, seed=100 + seed)
            save(t, "%s/%s.safetensors" % (out, name), metadata={"config": json.dumps(cfg)})
        generate_names(out)


def generate_names(out):
    configs = pathlib.Path(__file__).resolve().parents[2] / "configs"
    builders = {"hrnet": (build, SHIPPED), "simplebaseline": (gen_simplebaseline.build, gen_simplebaseline.SHIPPED)}
    meta, cache = {}, {}
    with mmpose_ref.no_init():
        for path in sorted(configs.glob("*.json")):
            cfg = json.loads(path.read_text())
            if cfg.get("type") not in builders:
                continue
            build_ours, shipped = builders[cfg["type"]]
            # Configs that differ only in input size (MMPose's too: only their codecs differ) share a model.
            key = json.dumps({k: v for k, v in cfg.items() if k != "input_size"}, sort_keys=True)
            if key not in cache:
                cache[key] = mmpose_ref.state_shapes(build_ours(cfg), path, shipped)
            meta[path.name] = cache[key]
    save({}, out + "/model_names.safetensors", metadata=meta)
