"""The PyTorch side of wbpose-bench model: the reference model (tests/reference/models_ref.py, same
architecture and parameter names as ours) on the same weights (--weights, loaded strictly), timed on
the same passes and batch sizes."""
import argparse
import json
import os
import statistics
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "reference"))
import models_ref  # noqa: E402
from st import load as load_safetensors  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", required=True)
    ap.add_argument("--weights", required=True)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--large-batch", type=int, default=32)
    ap.add_argument("--iters", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.backends.cudnn.benchmark = True
    cfg = models_ref.complete_config(models_ref.load_config(a.config))
    model = models_ref.build(cfg).to(a.device)
    model.load_state_dict(load_safetensors(a.weights), strict=True)
    h, w = cfg["input_size"]
    k = cfg["num_keypoints"]

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
        target = torch.zeros(batch, k, h // 4, w // 4, device=a.device)
        if train:
            model.train()

            def step():
                model.zero_grad(set_to_none=True)
                torch.nn.functional.mse_loss(model(x), target).backward()
            out["train_b%d" % batch] = timed(step)
        else:
            model.eval()
            with torch.no_grad():
                out["eval_b%d" % batch] = timed(lambda: model(x))
    with open(a.out, "w") as f:
        json.dump(out, f)


if __name__ == "__main__":
    main()
