"""References for bilinear resize and nearest upsampling (torch.nn.functional.interpolate).

Case i is stored as "<dtype>.<i>.{x,y,dy,dx,params}" for dtype f64 and f32, with
params = [out_h, out_w, align_corners, scale_h, scale_w, bilinear]; a scale of 0 means the size
was given instead. dx is left out where torch's gradient is not the adjoint of its forward (see
nearest_grad_is_adjoint).
"""
import torch
import torch.nn.functional as F

from st import save

# (input shape, bilinear, align_corners, size or None, scale or None)
CASES = [
    ((2, 3, 5, 7), True, False, (11, 13), None),    # up, odd sizes
    ((2, 3, 5, 7), True, True, (11, 13), None),
    ((2, 3, 16, 12), True, False, (7, 5), None),    # down, fractional ratio
    ((2, 3, 16, 12), True, True, (7, 5), None),
    ((1, 2, 4, 3), True, False, (1, 1), None),      # to a single pixel
    ((1, 2, 4, 3), True, True, (1, 1), None),
    ((1, 2, 1, 3), True, False, (4, 5), None),      # from a single row
    ((1, 2, 5, 7), True, False, None, (1.5, 1.5)),  # fractional scale factor
    ((1, 2, 5, 7), True, True, None, (1.5, 1.5)),
    ((1, 2, 6, 5), True, False, None, (2.0, 2.0)),  # integer scale factor
    ((1, 2, 6, 5), True, True, None, (2.0, 2.0)),
    ((1, 2, 9, 7), True, False, None, (0.5, 0.6)),  # downscale factor
    ((1, 1, 5, 5), True, False, None, (1.1, 1.1)),  # floor(5 * 1.1) = 5: torch copies
    ((2, 3, 5, 7), False, False, (11, 13), None),
    ((2, 3, 5, 7), False, False, (10, 14), None),   # exactly 2x
    ((2, 3, 16, 12), False, False, (7, 5), None),
    ((1, 2, 5, 7), False, False, None, (2.1, 2.1)),  # size 2x, ratio not 1/2
    ((1, 2, 5, 7), False, False, None, (1.7, 0.6)),
    ((1, 2, 6, 5), False, False, None, (2.0, 3.0)),
    ((1, 2, 5, 7), False, False, None, (1.1, 1.1)),  # size kept, ratio not 1
]


def nearest_grad_is_adjoint(shape, out_size, scale):
    """torch's NCHW nearest forward reads floor(o / scale), but its backward shortcuts out == in
    (copy) and out == 2 * in (o // 2) whatever the scale factor; with such a scale the gradient it
    returns belongs to a different forward, so there is nothing to compare ours with."""
    if scale is None:
        return True
    return all(o not in (i, 2 * i) or o == i * s for i, o, s in zip(shape[2:], out_size, scale))


def generate(out):
    g = torch.Generator().manual_seed(11)
    t = {}
    for dtype, tag in ((torch.float64, "f64"), (torch.float32, "f32")):
        for i, (shape, bilinear, align, size, scale) in enumerate(CASES):
            x = torch.randn(shape, generator=g, dtype=dtype).requires_grad_(True)
            kw = {"size": size} if size is not None else {"scale_factor": scale}
            if bilinear:
                y = F.interpolate(x, mode="bilinear", align_corners=align, **kw)
            else:
                y = F.interpolate(x, mode="nearest", **kw)
            dy = torch.randn(y.shape, generator=g, dtype=dtype)
            (dx,) = torch.autograd.grad(y, [x], dy)
            sh, sw = scale if scale is not None else (0.0, 0.0)
            p = "%s.%d." % (tag, i)
            t[p + "x"] = x
            t[p + "y"] = y
            t[p + "dy"] = dy
            if bilinear or nearest_grad_is_adjoint(shape, y.shape[2:], scale):
                t[p + "dx"] = dx
            t[p + "params"] = torch.tensor([y.shape[2], y.shape[3], float(align), sh, sw, float(bilinear)],
                                           dtype=torch.float64)
    t["count"] = torch.tensor([len(CASES)], dtype=torch.int64)
    save(t, out + "/resize.safetensors")
