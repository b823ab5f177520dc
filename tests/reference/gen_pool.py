"""References for max, average and global average pooling, forward and backward, f64 and f32.

Case <kind>.<i> (kind max or avg) stores params = [kh, kw, sh, sw, ph, pw, ceil_mode,
count_include_pad] and, per dtype suffix d in (f64, f32), x.d, dy.d, y.d, dx.d, and for max also the
indices idx.d. global.<i> stores the same without params.
"""
import torch
import torch.nn.functional as F

from st import save

# input shape, kernel, stride, padding, ceil_mode
WINDOWS = [
    ((3, 2, 9, 7), (3, 3), (2, 2), (1, 1), False),
    ((1, 3, 8, 8), (3, 3), (2, 2), (1, 1), True),
    ((2, 2, 7, 5), (2, 2), (2, 2), (0, 0), True),    # ceil: the last window hangs past the input
    ((1, 2, 5, 6), (3, 3), (1, 1), (1, 1), False),
    ((3, 1, 6, 5), (3, 2), (2, 1), (1, 0), False),   # rectangular kernel and stride
    ((1, 2, 5, 4), (3, 2), (2, 3), (1, 1), True),    # ceil: width 4 drops a window starting in the right padding
    ((2, 3, 11, 9), (3, 3), (3, 3), (1, 1), True),
    ((1, 1, 4, 4), (4, 4), (1, 1), (2, 2), True),   # padding = half the kernel
]
GLOBAL = [(3, 4, 5, 7), (1, 2, 1, 1), (1, 3, 6, 6)]


def grads(fn, x64, g):
    """Runs fn on x64 in f64 and on x64 cast to f32; returns {suffix: (x, dy, y, dx, extra)}."""
    res = {}
    dy64 = None
    for suffix, dtype in (("f64", torch.float64), ("f32", torch.float32)):
        x = x64.to(dtype).requires_grad_(True)
        y, extra = fn(x)
        if dy64 is None:
            dy64 = torch.randn(y.shape, generator=g, dtype=torch.float64)
        dy = dy64.to(dtype)
        (dx,) = torch.autograd.grad(y, [x], dy)
        res[suffix] = (x, dy, y, dx, extra)
    return res


def generate(out):
    g = torch.Generator().manual_seed(11)
    t = {}
    for kind in ("max", "avg"):
        i = 0
        for shape, k, s, p, ceil in WINDOWS:
            for cip in ((True,) if kind == "max" else (True, False)):
                n = 1
                for d in shape:
                    n *= d
                # Distinct values (a shuffled ramp) keep the argmax unambiguous in f32 as well.
                x64 = (torch.randperm(n, generator=g).to(torch.float64) * 0.25 - n * 0.1).reshape(shape)
                if kind == "max":
                    fn = lambda x: F.max_pool2d(x, k, s, p, ceil_mode=ceil, return_indices=True)
                else:
                    fn = lambda x: (F.avg_pool2d(x, k, s, p, ceil_mode=ceil, count_include_pad=cip), None)
                pre = "%s.%d." % (kind, i)
                t[pre + "params"] = torch.tensor([k[0], k[1], s[0], s[1], p[0], p[1], int(ceil), int(cip)],
                                                 dtype=torch.int64)
                for suffix, (x, dy, y, dx, idx) in grads(fn, x64, g).items():
                    t[pre + "x." + suffix], t[pre + "dy." + suffix] = x, dy
                    t[pre + "y." + suffix], t[pre + "dx." + suffix] = y, dx
                    if idx is not None:
                        t[pre + "idx." + suffix] = idx
                i += 1
    for i, shape in enumerate(GLOBAL):
        x64 = torch.randn(shape, generator=g, dtype=torch.float64) + 1.0
        fn = lambda x: (F.adaptive_avg_pool2d(x, 1), None)
        for suffix, (x, dy, y, dx, _) in grads(fn, x64, g).items():
            pre = "global.%d." % i
            t[pre + "x." + suffix], t[pre + "dy." + suffix] = x, dy
            t[pre + "y." + suffix], t[pre + "dx." + suffix] = y, dx
    save(t, out + "/pool.safetensors")
