"""SimpleBaseline parity references (tests/test_models.cpp): a ResNet-50 (Bottleneck [3, 4, 6, 3])
and a ResNet-18 (BasicBlock) backbone at 1/8 width with the three 4x4 stride-2 deconvolutions, at
a reduced input size; the full model runs in the benchmark.
"""
import json

from models_ref import parity_case
from st import save

SMALL = {"type": "simplebaseline", "num_keypoints": 17, "input_size": [128, 96], "depth": 50,
         "stem_channels": 8, "base_channels": 8, "deconv_channels": [16, 16, 16]}
CASES = {
    "simplebaseline_small": SMALL,
    "simplebaseline_r18_small": dict(SMALL, depth=18, num_keypoints=3),
}


def generate(out):
    for seed, (name, cfg) in enumerate(sorted(CASES.items())):
        t = parity_case(cfg, batch=2, seed=200 + seed)
        save(t, "%s/%s.safetensors" % (out, name), metadata={"config": json.dumps(cfg)})
