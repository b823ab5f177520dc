"""Round trip of scripts/convert_checkpoint.py (tests/test_checkpoint_convert.cpp) for every family
MMPose has: HRNet (V1 and the V2 head), SimpleBaseline, MSPN, ViPNAS-Res50 and ViPNAS-MbV3. MMPose's
own model (mmpose_ref.build of a small config) with seeded random weights is written by torch.save
in the layouts of MMPose 1.x and MMPose 0.x, and for HRNet also of the official HRNet code (a
DataParallel training checkpoint without num_batches_tracked, as PyTorch < 0.4.1 wrote them); each
is converted by the script's command line and must give back exactly MMPose's state_dict. The
converted files, with an input and the eval-mode heatmaps of MMPose's model (MSPN: its last output,
what its predict keeps), go to the C++ test, which loads them strictly and reruns the forward pass.

The first conversion runs the script as a program; the others call its main() with the same
argument list in this process (a Python start with torch costs a second or two each).

MMPose 0.x's layout (its source, branch 0.x, version 0.29.0): its TopDown detector names the head
keypoint_head (1.x: head), and a TopdownHeatmapSimpleHead with extra num_conv_layers (HRNetV2's
head) keeps those conv layers and the final conv in one Sequential, final_layer = [conv, BN,
ReLU] * n + conv, where 1.x's HeatmapHead has conv_layers.* and final_layer. Everything else is
named alike: the backbones (HRNet, ResNet, MSPN, ViPNAS_ResNet, ViPNAS_MobileNetV3) are the same
modules in both, and 0.x's TopdownHeatmapSimpleHead, TopdownHeatmapMSMUHead (MSPN) and
ViPNASHeatmapSimpleHead name their layers as 1.x's HeatmapHead, MSPNHead and ViPNASHead do
(deconv_layers.*, final_layer.*; predict_layers.<i>.conv_layers.<j>.{conv,bn}). The 0.x file
written here is also checked against MMPose 1.x's own reading of 0.x heads (HeatmapHead's
state_dict pre-hook for old versions), which must load it, prefix aside, strictly and unchanged.
"""
import contextlib
import copy
import importlib.util
import io
import json
import pathlib
import subprocess
import sys
import tempfile

import torch

import gen_mspn
import gen_vipnas
import mmpose_ref
from model_parity import randomize
from st import load, save

CONVERTER = pathlib.Path(__file__).resolve().parents[2] / "scripts" / "convert_checkpoint.py"
HRNET = {"type": "hrnet", "num_keypoints": 17, "input_size": [64, 64], "width": 4, "stem_channels": 64,
         "stage1_blocks": 1, "stage1_channels": 8, "num_modules": [1, 1, 1], "num_blocks": [1, 1, 1]}
CASES = {
    "hrnet": HRNET,
    "hrnet_v2": dict(HRNET, head="v2", num_keypoints=6, upsample="bilinear"),  # as MMPose ships HRNetV2
    "simplebaseline": {"type": "simplebaseline", "num_keypoints": 5, "input_size": [96, 64], "depth": 50,
                       "stem_channels": 8, "base_channels": 4, "deconv_channels": [8, 8, 8]},
    "mspn": gen_mspn.SMALL,
    "vipnas_res50": gen_vipnas.RES50_REF,
    "vipnas_mbv3": gen_vipnas.MBV3_REF,
}
# What a training checkpoint holds besides the weights (the converter must ignore it).
OPTIMIZER = {"state": {}, "param_groups": [{"lr": 5e-4, "params": [0, 1]}]}


def mmpose0_state(state):
    """MMPose 0.x's names for MMPose 1.x's state_dict (see the docstring)."""
    conv_layers = sorted({int(k.split(".")[2]) for k in state if k.startswith("head.conv_layers.")})
    # [conv, BN, ReLU] per conv layer: the final conv follows the last triple's (weightless) ReLU.
    final_index = 3 * (conv_layers[-1] // 3 + 1) if conv_layers else None
    out = {}
    for k, v in state.items():
        if k.startswith("head.conv_layers."):
            k = "head.final_layer." + k[len("head.conv_layers."):]
        elif final_index is not None and k.startswith("head.final_layer."):
            k = "head.final_layer.%d.%s" % (final_index, k[len("head.final_layer."):])
        out["keypoint_head." + k[len("head."):] if k.startswith("head.") else k] = v
    return out


def layouts(name, state):
    """{format: object to torch.save} for MMPose's state_dict."""
    out = {"mmpose1": {"meta": {"mmpose_version": "1.3.2"}, "state_dict": state, "optimizer": OPTIMIZER},
           "mmpose0": {"meta": {"mmpose_version": "0.29.0"}, "state_dict": mmpose0_state(state),
                       "optimizer": OPTIMIZER}}
    if name == "hrnet":
        out["official"] = {"epoch": 210, "state_dict": {"module." + k.split(".", 1)[1]: v for k, v in state.items()
                                                        if not k.endswith("num_batches_tracked")}}
    return out


def check_mmpose_reads_mmpose0(model, state, mm0):
    """MMPose 1.x loads the 0.x names (its head's pre-hook renames them) into the model, unchanged."""
    fresh = copy.deepcopy(model)
    fresh.load_state_dict({"head." + k[len("keypoint_head."):] if k.startswith("keypoint_head.") else k: v
                           for k, v in mm0.items()}, strict=True)
    for k, v in fresh.state_dict().items():
        if not torch.equal(v, state[k]):
            raise AssertionError("MMPose 1.x reads our 0.x layout's %s differently" % k)


def load_converter():
    spec = importlib.util.spec_from_file_location("convert_checkpoint", CONVERTER)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def generate(out):
    if not mmpose_ref.available("checkpoint conversion references"):
        return
    converter = load_converter()
    ran_program = False
    with mmpose_ref.one_thread(), tempfile.TemporaryDirectory() as tmp:
        for seed, (name, cfg) in enumerate(sorted(CASES.items())):
            g = torch.Generator().manual_seed(300 + seed)
            model = mmpose_ref.build(cfg)
            randomize(model, g)
            model.eval()
            state = {k: v.detach().clone() for k, v in model.state_dict().items()}
            x = torch.randn(2, 3, *cfg["input_size"], generator=g)
            with torch.no_grad():
                y = model(x, None)
            if isinstance(y, list):
                y = y[-1]  # MSPN: the last stage's finest output
            save({"input": x, "output": y}, "%s/convert_%s.safetensors" % (out, name),
                 metadata={"config": json.dumps(cfg)})
            for fmt, obj in layouts(name, state).items():
                if fmt == "mmpose0":
                    check_mmpose_reads_mmpose0(model, state, obj["state_dict"])
                pth = "%s/%s.%s.pth" % (tmp, name, fmt)
                torch.save(obj, pth)
                dst = "%s/convert_%s.%s.safetensors" % (out, name, fmt)
                if not ran_program:
                    subprocess.run([sys.executable, str(CONVERTER), pth, dst], check=True, stdout=subprocess.DEVNULL)
                    ran_program = True
                else:
                    with contextlib.redirect_stdout(io.StringIO()):
                        rc = converter.main([pth, dst])
                    if rc != 0:
                        raise AssertionError("%s %s: convert_checkpoint.py exited %d" % (name, fmt, rc))
                got = load(dst)
                if sorted(got) != sorted(state):
                    raise AssertionError("%s %s: converted names differ: %s" % (name, fmt, sorted(set(got) ^ set(state))))
                for k, v in state.items():
                    if not torch.equal(got[k], v):
                        raise AssertionError("%s %s: converted tensor %s differs" % (name, fmt, k))
