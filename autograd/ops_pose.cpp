#include "autograd/ops_pose.h"

#include "autograd/node.h"
#include "kernels/elementwise.h"
#include "kernels/loss.h"

namespace wb::ops {

namespace k = wb::kernels;
using autograd::needs_grad;
using autograd::record;
using Grads = std::vector<Tensor>;

namespace {

// The optional weight may be undefined, which detach() does not accept.
Tensor detached(const Tensor& t) { return t.defined() ? t.detach() : Tensor(); }

// A loss is symmetric in pred and target up to sign: d/dtarget = -d/dpred.
Grads loss_grads(const Tensor& dpred, bool want_pred, bool want_target) {
  return {want_pred ? dpred : Tensor(), want_target ? k::scale(dpred, -1.0) : Tensor()};
}

}  // namespace

Tensor resize_bilinear(const Tensor& x, const k::ResizeParams& p) {
  Tensor y = k::resize_bilinear_forward(x, p);
  if (needs_grad({&x})) {
    record("resize_bilinear", {x}, {&y}, [shape = x.shape(), p](const Grads& g) -> Grads {
      return {k::resize_bilinear_backward(g[0], shape, p)};
    });
  }
  return y;
}

Tensor resize_bilinear_to(const Tensor& x, int64_t h, int64_t w) {
  if (x.size(2) == h && x.size(3) == w) return x;
  k::ResizeParams p;
  p.out_h = h;
  p.out_w = w;
  return resize_bilinear(x, p);
}

Tensor upsample_nearest(const Tensor& x, const k::ResizeParams& p) {
  Tensor y = k::upsample_nearest_forward(x, p);
  if (needs_grad({&x})) {
    record("upsample_nearest", {x}, {&y}, [shape = x.shape(), p](const Grads& g) -> Grads {
      return {k::upsample_nearest_backward(g[0], shape, p)};
    });
  }
  return y;
}

Tensor roi_align(const Tensor& x, const Tensor& rois, const k::RoIAlignParams& p) {
  Tensor y = k::roi_align_forward(x, rois, p);
  if (needs_grad({&x})) {
    record("roi_align", {x}, {&y}, [rois = rois.detach(), shape = x.shape(), p](const Grads& g) -> Grads {
      return {k::roi_align_backward(g[0], rois, shape, p)};
    });
  }
  return y;
}

Tensor heatmap_mse_loss(const Tensor& pred, const Tensor& target, const Tensor& weight) {
  Tensor loss = k::heatmap_mse_forward(pred, target, weight);
  if (needs_grad({&pred, &target})) {
    const bool gp = pred.requires_grad(), gt = target.requires_grad();
    record("heatmap_mse_loss", {pred, target}, {&loss},
           [pred = pred.detach(), target = target.detach(), weight = detached(weight), gp,
            gt](const Grads& g) -> Grads {
             return loss_grads(k::heatmap_mse_backward(g[0], pred, target, weight), gp, gt);
           });
  }
  return loss;
}

Tensor ohkm_mse_loss(const Tensor& pred, const Tensor& target, const Tensor& weight, int64_t topk) {
  Tensor loss = k::ohkm_mse_forward(pred, target, weight, topk);
  if (needs_grad({&pred, &target})) {
    const bool gp = pred.requires_grad(), gt = target.requires_grad();
    record("ohkm_mse_loss", {pred, target}, {&loss},
           [pred = pred.detach(), target = target.detach(), weight = detached(weight), topk, gp,
            gt](const Grads& g) -> Grads {
             return loss_grads(k::ohkm_mse_backward(g[0], pred, target, weight, topk), gp, gt);
           });
  }
  return loss;
}

Tensor elastic_slice(const Tensor& w, const k::ElasticSliceParams& p) {
  Tensor sub = k::elastic_slice_forward(w, p);
  if (needs_grad({&w})) {
    record("elastic_slice", {w}, {&sub}, [shape = w.shape(), p](const Grads& g) -> Grads {
      return {k::elastic_slice_backward(g[0], shape, p)};
    });
  }
  return sub;
}

}  // namespace wb::ops
