"""References for elastic kernel slicing: the sub-kernel by plain torch indexing and the
gradient autograd scatters back into the full weight.

Case i is stored as "<dtype>.<i>.{w,sub,dsub,dw,params}" for dtype f64 and f32, with
params = [out_channels, in_channels, kernel].
"""
import torch

from st import save

# (full weight shape, (out, in, k))
CASES = [((8, 6, 7, 7), (5, 4, 3)), ((8, 6, 7, 7), (8, 6, 5)), ((4, 3, 3, 3), (4, 3, 3)), ((6, 2, 5, 5), (1, 1, 1))]


def generate(out):
    g = torch.Generator().manual_seed(14)
    t = {}
    for dtype, tag in ((torch.float64, "f64"), (torch.float32, "f32")):
        for i, (shape, (o, c, k)) in enumerate(CASES):
            w = torch.randn(shape, generator=g, dtype=dtype).requires_grad_(True)
            s = (shape[2] - k) // 2
            sub = w[:o, :c, s:s + k, s:s + k]
            dsub = torch.randn(sub.shape, generator=g, dtype=dtype)
            (dw,) = torch.autograd.grad(sub, [w], dsub)
            p = "%s.%d." % (tag, i)
            t[p + "w"] = w
            t[p + "sub"] = sub
            t[p + "dsub"] = dsub
            t[p + "dw"] = dw
            t[p + "params"] = torch.tensor([o, c, k], dtype=torch.float64)
    t["count"] = torch.tensor([len(CASES)], dtype=torch.int64)
    save(t, out + "/elastic.safetensors")
