"""References for RoIAlign (torchvision.ops.roi_align): forward and gradient into the features.

Case i is stored as "<dtype>.<i>.{x,rois,y,dy,dx,params}" for dtype f64 and f32, with
params = [out_h, out_w, spatial_scale, sampling_ratio, aligned].
"""
import torch
from torchvision.ops import roi_align

from st import save

# (batch index, x1, y1, x2, y2) in image coordinates; the features are 16 x 12 at scale 1.
BOXES = [
    [0, 1.2, 2.5, 9.7, 13.1],
    [1, -3.0, -2.0, 4.0, 5.0],      # partly off the map
    [0, 10.0, 14.0, 30.0, 40.0],    # mostly off the map
    [1, 40.0, 50.0, 60.0, 70.0],    # wholly off the map
    [1, 5.0, 5.0, 5.0, 5.0],        # zero size
    [0, 0.0, 0.0, 11.0, 15.0],      # the whole map
    [1, 2.25, 3.75, 6.5, 4.0],      # thin
    [0, 8.0, 9.0, 3.0, 2.0],        # corners reversed
]

# (out_h, out_w, spatial_scale, sampling_ratio, aligned)
CASES = [(oh, ow, s, sr, al)
         for al in (True, False)
         for sr in (0, 1, 2, 3)
         for (oh, ow, s) in ((5, 4, 1.0), (3, 3, 0.25))] + [(7, 7, 0.5, 0, True), (2, 6, 2.0, 2, False)]


def generate(out):
    g = torch.Generator().manual_seed(12)
    t = {}
    for dtype, tag in ((torch.float64, "f64"), (torch.float32, "f32")):
        for i, (oh, ow, scale, sr, aligned) in enumerate(CASES):
            x = torch.randn(2, 3, 16, 12, generator=g, dtype=dtype).requires_grad_(True)
            rois = torch.tensor(BOXES, dtype=dtype)
            y = roi_align(x, rois, (oh, ow), spatial_scale=scale, sampling_ratio=sr, aligned=aligned)
            dy = torch.randn(y.shape, generator=g, dtype=dtype)
            (dx,) = torch.autograd.grad(y, [x], dy)
            p = "%s.%d." % (tag, i)
            t[p + "x"] = x
            t[p + "rois"] = rois
            t[p + "y"] = y
            t[p + "dy"] = dy
            t[p + "dx"] = dx
            t[p + "params"] = torch.tensor([oh, ow, scale, sr, float(aligned)], dtype=torch.float64)
    t["count"] = torch.tensor([len(CASES)], dtype=torch.int64)
    save(t, out + "/roi_align.safetensors")
