"""References for conv2d, conv_transpose2d (groups, stride, padding, dilation, output_padding) and
linear: inputs, weights, the output gradient, outputs and dx/dw/db, in f64 and in f32.

Names: "<op>.<case>.params" (i64: stride h, w, padding h, w, dilation h, w, output_padding h, w,
groups; conv ops only) and "<op>.<case>.<f64|f32>.<x|w|b|dy|y|dx|dw|db>"; b and db are absent for
a case without bias. The f32 tensors are the f64 ones rounded, run through PyTorch in f32.
"""
import torch
import torch.nn.functional as F

from st import save

# name: (x shape, w shape, bias, stride, padding, dilation, output_padding, groups)
CONV2D = {
    "dense3x3": ((2, 5, 8, 9), (7, 5, 3, 3), True, (1, 1), (1, 1), (1, 1), (0, 0), 1),
    "grouped_s2": ((2, 6, 9, 7), (8, 3, 3, 3), True, (2, 2), (1, 1), (1, 1), (0, 0), 2),
    "groups4_5x5": ((1, 8, 11, 10), (4, 2, 5, 5), False, (1, 2), (2, 1), (1, 1), (0, 0), 4),
    "depthwise_dil2": ((1, 8, 11, 10), (8, 1, 3, 3), True, (1, 1), (2, 2), (2, 2), (0, 0), 8),
    "depthwise_mult2_s2": ((3, 4, 7, 7), (8, 1, 5, 5), False, (2, 1), (2, 1), (1, 1), (0, 0), 4),
    "pointwise": ((2, 16, 6, 5), (12, 16, 1, 1), True, (1, 1), (0, 0), (1, 1), (0, 0), 1),
    "pointwise_s2": ((1, 6, 7, 5), (4, 6, 1, 1), False, (2, 2), (0, 0), (1, 1), (0, 0), 1),
    # Wide enough that the CPU builds its column matrix in several bands of output rows.
    "banded": ((1, 64, 8, 60), (4, 64, 3, 3), True, (1, 1), (1, 1), (1, 1), (0, 0), 1),
}
CONV_TRANSPOSE2D = {
    "grouped_s2": ((2, 6, 5, 4), (6, 2, 4, 4), True, (2, 2), (1, 1), (1, 1), (0, 0), 3),
    "outpad_s2": ((1, 4, 5, 6), (4, 3, 3, 3), False, (2, 2), (1, 1), (1, 1), (1, 1), 1),
    "depthwise_dil2": ((2, 4, 4, 5), (4, 1, 3, 3), True, (1, 1), (2, 2), (2, 2), (0, 0), 4),
    "outpad_dil2": ((1, 2, 3, 3), (2, 2, 3, 3), True, (1, 1), (0, 1), (2, 2), (1, 0), 1),
    "pointwise": ((3, 5, 4, 3), (5, 7, 1, 1), True, (1, 1), (0, 0), (1, 1), (0, 0), 1),
}
# name: (x shape, w shape, bias)
LINEAR = {
    "bias": ((5, 7), (3, 7), True),
    "no_bias": ((1, 4), (6, 4), False),
}


def _case(t, prefix, fn, inputs, g):
    """Runs fn on the inputs in f64 and f32 and stores inputs, dy, y and the input gradients."""
    dy = torch.randn(fn(inputs).shape, generator=g, dtype=torch.float64)
    for dtype, tag in ((torch.float64, "f64"), (torch.float32, "f32")):
        leaves = {k: v.to(dtype).requires_grad_(True) for k, v in inputs.items()}
        y = fn(leaves)
        grads = torch.autograd.grad(y, list(leaves.values()), dy.to(dtype))
        p = "%s.%s." % (prefix, tag)
        t[p + "dy"] = dy.to(dtype)
        t[p + "y"] = y
        for (k, v), gr in zip(leaves.items(), grads):
            t[p + k] = v
            t[p + "d" + k] = gr


def _inputs(g, x_shape, w_shape, bias_size):
    v = {"x": torch.randn(x_shape, generator=g, dtype=torch.float64),
         "w": torch.randn(w_shape, generator=g, dtype=torch.float64)}
    if bias_size:
        v["b"] = torch.randn(bias_size, generator=g, dtype=torch.float64)
    return v


def generate(out):
    g = torch.Generator().manual_seed(7)
    t = {}
    for op, cases in (("conv2d", CONV2D), ("conv_transpose2d", CONV_TRANSPOSE2D)):
        for name, (xs, ws, bias, stride, padding, dilation, output_padding, groups) in cases.items():
            prefix = "%s.%s" % (op, name)
            t[prefix + ".params"] = torch.tensor([*stride, *padding, *dilation, *output_padding, groups],
                                                 dtype=torch.int64)
            if op == "conv2d":
                def fn(v, s=stride, p=padding, d=dilation, gr=groups):
                    return F.conv2d(v["x"], v["w"], v.get("b"), s, p, d, gr)
                out_channels = ws[0]
            else:
                def fn(v, s=stride, p=padding, d=dilation, op_=output_padding, gr=groups):
                    return F.conv_transpose2d(v["x"], v["w"], v.get("b"), s, p, op_, gr, d)
                out_channels = ws[1] * groups
            _case(t, prefix, fn, _inputs(g, xs, ws, out_channels if bias else 0), g)
    for name, (xs, ws, bias) in LINEAR.items():
        _case(t, "linear." + name, lambda v: F.linear(v["x"], v["w"], v.get("b")),
              _inputs(g, xs, ws, ws[0] if bias else 0), g)
    save(t, out + "/conv.safetensors")
