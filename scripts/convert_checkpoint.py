#!/usr/bin/python3
"""Converts a PyTorch pose checkpoint (.pth) into wbpose's safetensors, named as our models'
state_dict() (MMPose 1.x names), so that it loads strictly:

  convert_checkpoint.py IN.pth OUT.safetensors [--format auto|mmpose1|mmpose0|official]

Formats (auto-detected from the names), for HRNet (V1 and V2 head), SimpleBaseline, MSPN and
ViPNAS (Res50 and MobileNetV3):
  mmpose1   MMPose 1.x: backbone.*, head.* (kept as they are).
  mmpose0   MMPose 0.x: backbone.*, keypoint_head.* -> head.*; a head whose final_layer is a
            Sequential of [conv, BN, ReLU]*n + conv (HRNetV2's num_conv_layers) becomes 1.x's
            head.conv_layers.* + head.final_layer.*. Nothing else differs: 0.x's backbones are
            the modules 1.x has (HRNet, ResNet, MSPN, ViPNAS_ResNet, ViPNAS_MobileNetV3), and its
            TopdownHeatmapMSMUHead (MSPN: predict_layers.<i>.conv_layers.<j>.{conv,bn}) and
            ViPNASHeatmapSimpleHead (deconv_layers.*, final_layer.*) name their layers as 1.x's
            MSPNHead and ViPNASHead do (MMPose's 0.x branch, version 0.29.0).
  official  leoxiaobin/deep-high-resolution-net.pytorch: unprefixed backbone names -> backbone.*,
            final_layer.* -> head.final_layer.*.
A 'state_dict' entry of a training checkpoint is unwrapped and DataParallel's 'module.' prefix
removed. Our BatchNorm2d keeps num_batches_tracked, as PyTorch's does, so it is kept; a checkpoint
written before PyTorch 0.4.1 lacks it and gets 0, the value PyTorch's own loader would leave.
Floating-point tensors are written as f32.
"""
import argparse
import json
import os
import re
import struct
import sys

import torch

_DTYPES = {torch.float32: "F32", torch.int64: "I64"}


def unwrap(obj, path):
    if isinstance(obj, dict) and "state_dict" in obj and isinstance(obj["state_dict"], dict):
        obj = obj["state_dict"]
    if not isinstance(obj, dict) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise ValueError("%s: not a state_dict (a dict of tensors, or a checkpoint with 'state_dict')" % path)
    if obj and all(k.startswith("module.") for k in obj):
        obj = {k[len("module."):]: v for k, v in obj.items()}
    return obj


def detect_format(state):
    if any(k.startswith("keypoint_head.") for k in state):
        return "mmpose0"
    if any(k.startswith(("backbone.", "head.")) for k in state):
        return "mmpose1"
    return "official"


def _sequential_final_layer(state, prefix):
    """Indices of a Sequential final_layer under `prefix` (empty when it is a plain conv)."""
    pattern = re.compile(re.escape(prefix) + r"final_layer\.(\d+)\.")
    return sorted({int(m.group(1)) for k in state for m in [pattern.match(k)] if m})


def rename(state, fmt):
    out = {}
    if fmt == "mmpose1":
        out = dict(state)
    elif fmt == "mmpose0":
        # Only the head's prefix and the Sequential final_layer of 0.x's HRNetV2 head differ from
        # 1.x (see the docstring): MSPN's and ViPNAS' 0.x checkpoints need nothing else.
        seq = _sequential_final_layer(state, "keypoint_head.")
        last = seq[-1] if seq else None
        for k, v in state.items():
            if k.startswith("keypoint_head."):
                k = "head." + k[len("keypoint_head."):]
                m = re.match(r"head\.final_layer\.(\d+)\.(.*)", k)
                if m:
                    i = int(m.group(1))
                    k = "head.final_layer." + m.group(2) if i == last else "head.conv_layers.%d.%s" % (i, m.group(2))
            out[k] = v
    elif fmt == "official":
        for k, v in state.items():
            out[("head." if k.startswith("final_layer.") else "backbone.") + k] = v
    else:
        raise ValueError("unknown checkpoint format '%s' (mmpose1, mmpose0, official)" % fmt)
    for k in [k for k in out if k.endswith(".running_mean")]:
        out.setdefault(k[: -len("running_mean")] + "num_batches_tracked", torch.tensor(0, dtype=torch.int64))
    return out


def convert(state, fmt="auto"):
    """MMPose 1.x-named tensors: floating point as f32, integers as i64."""
    if fmt == "auto":
        fmt = detect_format(state)
    out = {}
    for k, v in rename(state, fmt).items():
        v = v.detach().cpu()
        out[k] = v.float() if v.is_floating_point() else v.long()
    return out, fmt


def save_safetensors(tensors, path, metadata):
    header, blobs, offset = {"__metadata__": metadata}, [], 0
    for name in sorted(tensors):
        t = tensors[name].contiguous()
        data = t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b""
        header[name] = {"dtype": _DTYPES[t.dtype], "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
        blobs.append(data)
    hs = json.dumps(header, separators=(",", ":")).encode()
    hs += b" " * (-len(hs) % 8)
    tmp = "%s.tmp.%d" % (path, os.getpid())
    try:
        with open(tmp, "wb") as f:
            f.write(struct.pack("<Q", len(hs)))
            f.write(hs)
            for b in blobs:
                f.write(b)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("input", help="MMPose or official HRNet .pth checkpoint")
    ap.add_argument("output", help="safetensors file to write")
    ap.add_argument("--format", default="auto", choices=["auto", "mmpose1", "mmpose0", "official"])
    args = ap.parse_args(argv)
    try:
        state = unwrap(torch.load(args.input, map_location="cpu"), args.input)
        tensors, fmt = convert(state, args.format)
        save_safetensors(tensors, args.output, {"source": os.path.basename(args.input), "format": fmt})
    except (OSError, ValueError, RuntimeError, KeyError) as e:
        print("convert_checkpoint: %s" % e, file=sys.stderr)
        return 1
    print("%s: %d tensors (%s) -> %s" % (args.input, len(tensors), fmt, args.output))
    return 0


if __name__ == "__main__":
    sys.exit(main())
