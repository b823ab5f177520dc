"""The PyTorch side of wbpose-bench: times the same ops on the same shapes, in the same run.

Reads a JSON list of case specs written by wbpose-bench, writes {name: {fwd_ms, bwd_ms}}.
Backward passes call the ATen backward kernels directly where PyTorch exposes them (convolution,
upsampling, RoIAlign, batch norm) so that autograd bookkeeping is not counted against PyTorch;
elsewhere torch.autograd.grad with retain_graph.
"""
import argparse
import json
import statistics
import time

import torch
import torch.nn.functional as F


def timer(device, warmup, iters, max_seconds=2.0):
    def run(fn):
        for _ in range(warmup):
            fn()
        samples = []
        start = time.perf_counter()
        for i in range(iters):
            if device == "cuda":
                a = torch.cuda.Event(enable_timing=True)
                b = torch.cuda.Event(enable_timing=True)
                a.record()
                fn()
                b.record()
                b.synchronize()
                samples.append(a.elapsed_time(b))
            else:
                t0 = time.perf_counter()
                fn()
                samples.append((time.perf_counter() - t0) * 1e3)
            if i >= 2 and time.perf_counter() - start > max_seconds:
                break
        return statistics.median(samples)
    return run


def build(spec, dev):
    """Returns (forward, backward) closures for one case."""
    op = spec["op"]
    rn = lambda shape: torch.randn(*shape, device=dev)
    if op in ("conv2d", "conv_transpose2d"):
        x, w = rn(spec["x"]), rn(spec["w"]) * 0.1
        s, p, g = spec["stride"], spec["pad"], spec["groups"]
        transposed = op == "conv_transpose2d"
        if transposed:
            y = F.conv_transpose2d(x, w, None, s, p, 0, g)
        else:
            y = F.conv2d(x, w, None, s, p, 1, g)
        dy = torch.randn_like(y)
        fwd = (lambda: F.conv_transpose2d(x, w, None, s, p, 0, g)) if transposed else (lambda: F.conv2d(x, w, None, s, p, 1, g))
        bwd = lambda: torch.ops.aten.convolution_backward(dy, x, w, None, [s, s], [p, p], [1, 1], transposed, [0, 0], g,
                                                          [True, True, False])
        return fwd, bwd
    if op == "batch_norm_relu":
        x = rn(spec["x"])
        c = x.shape[1]
        gamma, beta = torch.randn(c, device=dev), torch.randn(c, device=dev)
        rm, rv = torch.zeros(c, device=dev), torch.ones(c, device=dev)
        fwd = lambda: F.relu(F.batch_norm(x, rm, rv, gamma, beta, True, 0.1, 1e-5))
        xr, gr, br = x.clone().requires_grad_(True), gamma.clone().requires_grad_(True), beta.clone().requires_grad_(True)
        y = F.relu(F.batch_norm(xr, rm.clone(), rv.clone(), gr, br, True, 0.1, 1e-5))
        dy = torch.randn_like(y)
        bwd = lambda: torch.autograd.grad(y, [xr, gr, br], dy, retain_graph=True)
        return fwd, bwd
    if op in ("bilinear", "nearest"):
        x = rn(spec["x"])
        out = spec["out"]
        if op == "bilinear":
            fwd = lambda: F.interpolate(x, size=out, mode="bilinear", align_corners=False)
            dy = torch.randn(x.shape[0], x.shape[1], *out, device=dev)
            bwd = lambda: torch.ops.aten.upsample_bilinear2d_backward(dy, out, list(x.shape), False, None, None)
        else:
            fwd = lambda: F.interpolate(x, size=out, mode="nearest")
            dy = torch.randn(x.shape[0], x.shape[1], *out, device=dev)
            bwd = lambda: torch.ops.aten.upsample_nearest2d_backward(dy, out, list(x.shape), None, None)
        return fwd, bwd
    if op == "add_relu":
        a, b = rn(spec["x"]), rn(spec["x"])
        y = F.relu(a)
        fwd = lambda: F.relu(a + b)
        bwd = lambda: torch.ops.aten.threshold_backward(b, y, 0)
        return fwd, bwd
    if op == "roi_align":
        import torchvision
        x = rn(spec["x"])
        rois = torch.tensor(spec["rois"], dtype=torch.float32, device=dev)
        out, scale, sr = spec["out"], spec["scale"], spec["sampling"]
        fwd = lambda: torchvision.ops.roi_align(x, rois, (out, out), scale, sr, True)
        dy = torch.randn(rois.shape[0], x.shape[1], out, out, device=dev)
        n, c, h, w = x.shape
        bwd = lambda: torch.ops.torchvision._roi_align_backward(dy, rois, scale, out, out, n, c, h, w, sr, True)
        return fwd, bwd
    if op in ("mse", "ohkm"):
        pred, target = rn(spec["x"]), rn(spec["x"])
        n, k = pred.shape[:2]
        w = torch.ones(n, k, device=dev)
        topk = spec["topk"]

        def loss_of(p):
            if op == "mse":  # MMPose 1.x KeypointMSELoss
                return (F.mse_loss(p, target, reduction="none") * w[:, :, None, None]).mean()
            per = F.mse_loss(p * w[:, :, None, None], target * w[:, :, None, None], reduction="none").mean(dim=(2, 3))
            return torch.topk(per, topk, dim=1).values.mean()
        fwd = lambda: loss_of(pred)
        pr = pred.clone().requires_grad_(True)
        l = loss_of(pr)
        bwd = lambda: torch.autograd.grad(l, [pr], retain_graph=True)
        return fwd, bwd
    if op == "elastic":
        w = rn(spec["w"])
        o, i, k = spec["sub"][0], spec["sub"][1], spec["sub"][2]
        c0 = (w.shape[2] - k) // 2
        fwd = lambda: w[:o, :i, c0:c0 + k, c0:c0 + k].contiguous()
        ds = torch.randn(o, i, k, k, device=dev)

        def bwd():
            g = torch.zeros_like(w)
            g[:o, :i, c0:c0 + k, c0:c0 + k] = ds
            return g
        return fwd, bwd
    if op == "adam":
        params = [torch.randn(*s, device=dev) for s in spec["shapes"]]
        for p in params:
            p.grad = torch.randn_like(p)
        kwargs = {"fused": True} if dev == "cuda" else {"foreach": True}
        opt = torch.optim.Adam(params, lr=1e-3, **kwargs)
        return opt.step, None
    raise ValueError("torch_bench: unknown op " + op)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", required=True)
    ap.add_argument("--spec", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--iters", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.backends.cudnn.benchmark = True
    torch.set_grad_enabled(True)
    run = timer(a.device, a.warmup, a.iters)
    results = {}
    for spec in json.load(open(a.spec)):
        fwd, bwd = build(spec, a.device)
        with torch.no_grad():  # as ours: the forward builds no graph
            r = {"fwd_ms": run(fwd)}
        if bwd is not None and spec.get("backward", True):
            r["bwd_ms"] = run(bwd)
        results[spec["name"]] = r
    json.dump(results, open(a.out, "w"))


if __name__ == "__main__":
    main()
