"""The PyTorch side of wbpose-bench model: the reference model on the same weights (--weights, loaded
strictly: its parameter names are ours), timed on the same passes and batch sizes.

- mspn, vipnas_resnet, vipnas_mbv3: the real MMPose 1.3.2 TopdownPoseEstimator (tests/reference/
  mmpose_ref.build: gen_mspn.py, gen_vipnas.py build it from our JSON config). Eval: extract_feat +
  the head's tensor path, no decoding. Training: MMPose's own step, head.loss(extract_feat(x),
  data_samples) summed and back-propagated, on zero targets of our codec's shapes (MSPN: its Megvii
  levels) and unit weights. head.loss also computes MMPose's PCK accuracy (numpy, on the last
  output), as in MMPose training.
- hrnet, simplebaseline: bench/torch_ref_models.py, plain PyTorch with MMPose's names, trained with
  its MSE loss; it needs no MMPose, which the GPU machine of scripts/gpu-check.sh lacks.
- any other family (zoomnet): no reference; exits non-zero with a one-line reason.

MSPN eval: our MSPN::forward computes only the last stage's finest head (all MMPose's predict keeps);
MMPose's MSPNHead.forward computes all num_stages * num_units heads and its predict takes [-1].
--mspn-heads last (the default) times MMPose on the same work as ours (backbone + the last predict
layer); --mspn-heads all times MMPose's head.forward as its predict path runs it.
"""
import argparse
import json
import os
import statistics
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "reference"))
import mmpose_ref  # noqa: E402
import torch_ref_models  # noqa: E402
from st import load as load_safetensors  # noqa: E402

MMPOSE_FAMILIES = ("mspn", "vipnas_resnet", "vipnas_mbv3")
REF_FAMILIES = ("hrnet", "simplebaseline")


class RefModel:
    """torch_ref_models' model: forward and its MSE training step."""

    def __init__(self, cfg):
        self.cfg = torch_ref_models.complete_config(cfg)
        self.module = torch_ref_models.build(self.cfg)
        h, w = self.cfg["input_size"]
        self.heatmap_shape = (self.cfg["num_keypoints"], h // 4, w // 4)

    def forward(self, x):
        return self.module(x)

    def train_step(self, x, batch):
        target = torch.zeros((batch,) + self.heatmap_shape, device=x.device)

        def step():
            self.module.zero_grad(set_to_none=True)
            torch.nn.functional.mse_loss(self.module(x), target).backward()
        return step


class MMPoseModel:
    """MMPose's TopdownPoseEstimator for our JSON config."""

    def __init__(self, cfg, mspn_heads):
        self.cfg = cfg
        self.mspn = cfg["type"] == "mspn"
        self.mspn_heads = mspn_heads
        self.module = mmpose_ref.build(cfg)

    def forward(self, x):
        feats = self.module.extract_feat(x)
        if self.mspn and self.mspn_heads == "last":
            return self.module.head.predict_layers[-1](feats[-1][-1])
        return self.module.head.forward(feats)

    def train_step(self, x, batch):
        m = self.module
        with torch.no_grad():
            out = self.forward(x[:1])  # the heatmap shape
        k = self.cfg["num_keypoints"]
        if self.mspn:
            import gen_mspn
            levels = 1 + max(m.head.level_indices)
            hw = out.shape[2:] if torch.is_tensor(out) else out[-1].shape[2:]
            targets = torch.zeros(batch, levels, k, *hw, device=x.device)  # every level at out_shape, as MMPose's
            samples = gen_mspn.samples(targets, torch.ones(batch, levels, k, device=x.device))
        else:
            from model_parity import heatmap_samples
            samples = heatmap_samples(torch.zeros((batch,) + tuple(out.shape[1:]), device=x.device),
                                      torch.ones(batch, k, device=x.device))

        def step():
            m.zero_grad(set_to_none=True)
            losses = m.head.loss(m.extract_feat(x), samples)
            sum(losses[name] for name in losses if name.startswith("loss")).backward()
        return step


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", required=True)
    ap.add_argument("--weights", required=True)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--large-batch", type=int, default=32)
    ap.add_argument("--iters", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--mspn-heads", choices=("last", "all"), default="last",
                    help="MSPN eval: only the last stage's finest head (our work) or all heads (MMPose's predict)")
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    with open(a.config) as f:
        cfg = json.load(f)
    family = cfg.get("type", "hrnet")
    if family not in MMPOSE_FAMILIES + REF_FAMILIES:
        sys.exit("torch_model_bench.py: no PyTorch reference for model family '%s' (%s): MMPose has no such model "
                 "and bench/torch_ref_models.py builds only %s" % (family, a.config, ", ".join(REF_FAMILIES)))
    if family == "mspn" and cfg.get("res_top_channels", 64) != 64:
        sys.exit("torch_model_bench.py: %s has res_top_channels %d; MMPose's MSPN builds a working network only "
                 "with 64 (its ResNetTop ignores the setting, pose/models/mspn.h)" % (a.config, cfg["res_top_channels"]))
    torch.set_num_threads(a.threads)
    torch.backends.cudnn.benchmark = True
    model = MMPoseModel(cfg, a.mspn_heads) if family in MMPOSE_FAMILIES else RefModel(cfg)
    model.module.load_state_dict(load_safetensors(a.weights), strict=True)
    model.module.to(a.device)
    h, w = cfg.get("input_size", [256, 192])

    def timed(fn):
        for _ in range(a.warmup):
            fn()
        samples = []
        for _ in range(a.iters):
            if a.device != "cpu":
                torch.cuda.synchronize()
            t0 = time.perf_counter()
            fn()
            if a.device != "cpu":
                torch.cuda.synchronize()
            samples.append((time.perf_counter() - t0) * 1e3)
        return statistics.median(samples)

    out = {}
    for batch, train in ((1, False), (a.large_batch, False), (a.large_batch, True)):
        x = torch.randn(batch, 3, h, w, device=a.device)
        if train:
            model.module.eval()
            step = model.train_step(x, batch)
            model.module.train()
            out["train_b%d" % batch] = timed(step)
        else:
            model.module.eval()
            with torch.no_grad():
                out["eval_b%d" % batch] = timed(lambda: model.forward(x))
        print("torch %s batch %d: %.1f ms" % ("train" if train else "eval", batch,
                                              out[("train_b%d" if train else "eval_b%d") % batch]), file=sys.stderr)
    with open(a.out, "w") as f:
        json.dump(out, f)


if __name__ == "__main__":
    main()
