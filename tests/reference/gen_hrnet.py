"""HRNet parity references (tests/test_models.cpp): reduced width, depth and input size so that the
C++ forward and backward run in about a second on two cores; the structure (stem, Bottleneck
layer1, three transitions, multi-module stages with up- and multi-step downsampling fuse layers,
single-output last module or the HRNetV2 concat head) is that of the full models.

Input 96x64: HRNet's fuse layers need sides divisible by 32; H != W catches swapped axes.
"""
import json
import pathlib

from models_ref import build, load_config, parity_case
from st import save

SMALL = {"type": "hrnet", "num_keypoints": 17, "input_size": [96, 64], "width": 8, "stem_channels": 16,
         "stage1_blocks": 2, "stage1_channels": 16, "num_modules": [1, 2, 1], "num_blocks": [2, 1, 2]}
CASES = {
    "hrnet_small": SMALL,
    "hrnet_v2_small": dict(SMALL, head="v2", num_keypoints=5),
}


def generate(out):
    for seed, (name, cfg) in enumerate(sorted(CASES.items())):
        t = parity_case(cfg, batch=2, seed=100 + seed)
        save(t, "%s/%s.safetensors" % (out, name), metadata={"config": json.dumps(cfg)})
    generate_names(out)


def generate_names(out):
    """model_names.safetensors: for every configs/*.json, metadata[file name] = the reference
    model's state_dict as a JSON {name: shape}, to compare with our full-size models' names."""
    configs = pathlib.Path(__file__).resolve().parents[2] / "configs"
    meta, cache = {}, {}
    for path in sorted(configs.glob("*.json")):
        cfg = load_config(path)
        if cfg.get("type") not in ("hrnet", "simplebaseline"):
            continue
        key = json.dumps({k: v for k, v in cfg.items() if k != "input_size"}, sort_keys=True)
        if key not in cache:
            cache[key] = json.dumps({k: list(v.shape) for k, v in build(cfg).state_dict().items()})
        meta[path.name] = cache[key]
    save({}, out + "/model_names.safetensors", metadata=meta)
