"""Round trip of scripts/convert_checkpoint.py (tests/test_models.cpp): the reference model's
weights are written by torch.save in the layouts of MMPose 1.x, MMPose 0.x and the official HRNet
code (the latter as a DataParallel training checkpoint without num_batches_tracked, as PyTorch <
0.4.1 wrote them); each is converted by the script's command line and must give back exactly the
reference state_dict. The converted files, with an input and the eval-mode heatmaps of the
reference model, go to the C++ test, which loads them strictly and reruns the forward pass.
"""
import json
import pathlib
import subprocess
import sys
import tempfile

import torch

from models_ref import build, randomize
from st import save

CONVERTER = pathlib.Path(__file__).resolve().parents[2] / "scripts" / "convert_checkpoint.py"
CASES = {
    "hrnet": {"type": "hrnet", "num_keypoints": 17, "input_size": [64, 64], "width": 4, "stem_channels": 8,
              "stage1_blocks": 1, "stage1_channels": 8, "num_modules": [1, 1, 1], "num_blocks": [1, 1, 1]},
}
CASES["hrnet_v2"] = dict(CASES["hrnet"], head="v2", num_keypoints=6)


def layouts(state, v2):
    """{format: object to torch.save} for the reference state_dict."""
    mm0 = {}
    for k, v in state.items():
        if v2 and k.startswith("head.conv_layers."):
            k = k.replace("head.conv_layers.", "head.final_layer.")
        elif v2 and k.startswith("head.final_layer."):
            k = k.replace("head.final_layer.", "head.final_layer.3.")
        mm0["keypoint_head." + k[len("head."):] if k.startswith("head.") else k] = v
    out = {"mmpose1": {"meta": {"mmpose_version": "1.3.1"}, "state_dict": state},
           "mmpose0": {"meta": {"mmpose_version": "0.29.0"}, "state_dict": mm0}}
    if not v2:
        out["official"] = {"epoch": 210, "state_dict": {"module." + k.split(".", 1)[1]: v for k, v in state.items()
                                                        if not k.endswith("num_batches_tracked")}}
    return out


def read_safetensors(path):
    raw = pathlib.Path(path).read_bytes()
    n = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8:8 + n])
    dtypes = {"F32": torch.float32, "I64": torch.int64}
    out = {}
    for name, h in header.items():
        if name == "__metadata__":
            continue
        a, b = h["data_offsets"]
        buf = bytearray(raw[8 + n + a:8 + n + b])
        out[name] = torch.frombuffer(buf, dtype=dtypes[h["dtype"]]).reshape(h["shape"]) if buf else \
            torch.zeros(h["shape"], dtype=dtypes[h["dtype"]])
    return out


def generate(out):
    for seed, (name, cfg) in enumerate(sorted(CASES.items())):
        g = torch.Generator().manual_seed(300 + seed)
        model = build(cfg)
        randomize(model, g)
        model.eval()
        state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        x = torch.randn(2, 3, *model.cfg["input_size"], generator=g)
        with torch.no_grad():
            y = model(x)
        save({"input": x, "output": y}, "%s/convert_%s.safetensors" % (out, name), metadata={"config": json.dumps(cfg)})
        with tempfile.TemporaryDirectory() as tmp:
            for fmt, obj in layouts(state, cfg.get("head") == "v2").items():
                pth = "%s/%s.pth" % (tmp, fmt)
                torch.save(obj, pth)
                dst = "%s/convert_%s.%s.safetensors" % (out, name, fmt)
                subprocess.run([sys.executable, str(CONVERTER), pth, dst], check=True, stdout=subprocess.DEVNULL)
                got = read_safetensors(dst)
                if sorted(got) != sorted(state):
                    raise AssertionError("%s %s: converted names differ: %s" % (name, fmt, sorted(set(got) ^ set(state))))
                for k, v in state.items():
                    if not torch.equal(got[k], v):
                        raise AssertionError("%s %s: converted tensor %s differs" % (name, fmt, k))
