"""References for the heatmap losses, written in torch as MMPose 1.x computes them
(KeypointMSELoss and KeypointOHKMMSELoss with use_target_weight=True).

Case i is stored as "<dtype>.<i>.{pred,target,weight,mse,mse_noweight,ohkm,dmse_pred,dohkm_pred,dohkm_target,
params}" for dtype f64 and f32, with params = [topk].
"""
import torch
import torch.nn.functional as F

from st import save

# (N, K, H, W, topk)
CASES = [(2, 17, 16, 12, 8), (1, 5, 3, 3, 5), (3, 7, 4, 5, 1), (2, 6, 1, 1, 3)]


def keypoint_mse(output, target, target_weights):
    """MMPose 1.x KeypointMSELoss.forward with a [N, K] weight as its mask."""
    mask = target_weights.view(target_weights.shape + (1, 1))
    return (F.mse_loss(output, target, reduction="none") * mask).mean()


def keypoint_ohkm(output, target, target_weights, topk):
    """MMPose 1.x KeypointOHKMMSELoss.forward."""
    losses = []
    for idx in range(output.size(1)):
        w = target_weights[:, idx, None, None]
        losses.append(F.mse_loss(output[:, idx] * w, target[:, idx] * w, reduction="none"))
    losses = torch.cat([loss.mean(dim=(1, 2)).unsqueeze(dim=1) for loss in losses], dim=1)
    total = 0.0
    for i in range(losses.shape[0]):
        sub = losses[i]
        _, topk_idx = torch.topk(sub, k=topk, dim=0, sorted=False)
        total += torch.sum(torch.gather(sub, 0, topk_idx)) / topk
    return total / losses.shape[0]


def generate(out):
    g = torch.Generator().manual_seed(13)
    t = {}
    for dtype, tag in ((torch.float64, "f64"), (torch.float32, "f32")):
        for i, (n, k, h, w, topk) in enumerate(CASES):
            pred = torch.randn(n, k, h, w, generator=g, dtype=dtype).requires_grad_(True)
            target = torch.rand(n, k, h, w, generator=g, dtype=dtype).requires_grad_(True)
            weight = torch.rand(n, k, generator=g, dtype=dtype)
            weight.view(-1)[::3] = 0.0  # invisible keypoints
            mse = keypoint_mse(pred, target, weight)
            ohkm = keypoint_ohkm(pred, target, weight, topk)
            (dmse,) = torch.autograd.grad(mse, [pred])
            dohkm_pred, dohkm_target = torch.autograd.grad(ohkm, [pred, target])
            p = "%s.%d." % (tag, i)
            t[p + "pred"] = pred
            t[p + "target"] = target
            t[p + "weight"] = weight
            t[p + "mse"] = mse
            t[p + "ohkm"] = ohkm
            t[p + "mse_noweight"] = F.mse_loss(pred, target)
            t[p + "dmse_pred"] = dmse
            t[p + "dohkm_pred"] = dohkm_pred
            t[p + "dohkm_target"] = dohkm_target
            t[p + "params"] = torch.tensor([topk], dtype=torch.float64)
    t["count"] = torch.tensor([len(CASES)], dtype=torch.int64)
    save(t, out + "/loss.safetensors")
