"""References for elementwise ops, activations, reductions and concat."""
import torch
import torch.nn.functional as F

from st import save


def generate(out):
    g = torch.Generator().manual_seed(1)
    a = torch.randn(2, 3, 4, 5, generator=g, dtype=torch.float64, requires_grad=True)
    b = torch.randn(1, 3, 1, 5, generator=g, dtype=torch.float64, requires_grad=True)
    w = torch.rand(3, generator=g, dtype=torch.float64, requires_grad=True)
    x = (torch.randn(2, 3, 4, 5, generator=g, dtype=torch.float64) * 4).requires_grad_(True)
    ys = {
        "add": a + b, "sub": a - b, "mul": a * b,
        "relu": F.relu(x), "sigmoid": torch.sigmoid(x), "hswish": F.hardswish(x), "hsigmoid": F.hardsigmoid(x),
        "prelu": F.prelu(x, w),
    }
    t = {"a": a, "b": b, "x": x, "w": w}
    for name, y in ys.items():
        dy = torch.randn(y.shape, generator=g, dtype=torch.float64)
        grads = torch.autograd.grad(y, [a, b, x, w], dy, allow_unused=True)
        t[name + ".y"] = y
        t[name + ".dy"] = dy
        for nm, gr in zip(["a", "b", "x", "w"], grads):
            if gr is not None:
                t[name + ".d" + nm] = gr
    t["sum.y"] = a.sum()
    t["mean.y"] = a.mean()
    c = torch.cat([a, x], dim=1)
    t["concat.y"] = c
    save(t, out + "/basic.safetensors")
