#include "autograd/ops_conv.h"

#include "autograd/node.h"
#include "kernels/linear.h"
#include "tensor/error.h"

namespace wb::ops {

namespace k = wb::kernels;
using autograd::needs_grad;
using autograd::record;
using Grads = std::vector<Tensor>;

namespace {

// Which of (x, w, bias) want a gradient; fixed at forward time, like the graph edges.
struct Wanted {
  bool x, w, b;
};
Wanted wanted(const Tensor& x, const Tensor& w, const Tensor& bias) {
  return {x.requires_grad(), w.requires_grad(), bias.defined() && bias.requires_grad()};
}

}  // namespace

Tensor conv2d(const Tensor& x, const Tensor& w, const Tensor& bias, const k::Conv2dParams& p) {
  const bool grad = needs_grad({&x, &w, &bias});
  check(!(grad && p.relu), "conv2d: the fused ReLU (Conv2dParams::relu) has no backward; apply ops::relu when a "
        "gradient is recorded");
  Tensor y = k::conv2d_forward(x, w, bias, p);
  if (grad) {
    record("conv2d", {x, w, bias}, {&y},
           [x = x.detach(), w = w.detach(), p, need = wanted(x, w, bias)](const Grads& g) -> Grads {
             k::ConvGrads r = k::conv2d_backward(g[0], x, w, p, need.x, need.w, need.b);
             return {r.dx, r.dw, r.db};
           });
  }
  return y;
}

Tensor conv2d_fused(const Tensor& x, const Tensor& w, const k::ConvEpilogue& e, const k::Conv2dParams& p) {
  check(!needs_grad({&x, &w, &e.scale, &e.bias, &e.residual}),
        "conv2d_fused: inference only, but an input requires a gradient (use conv2d and separate ops)");
  return k::conv2d_forward_fused(x, w, e, p);
}

Tensor conv_transpose2d(const Tensor& x, const Tensor& w, const Tensor& bias, const k::Conv2dParams& p) {
  Tensor y = k::conv_transpose2d_forward(x, w, bias, p);
  if (needs_grad({&x, &w, &bias})) {
    record("conv_transpose2d", {x, w, bias}, {&y},
           [x = x.detach(), w = w.detach(), p, need = wanted(x, w, bias)](const Grads& g) -> Grads {
             k::ConvGrads r = k::conv_transpose2d_backward(g[0], x, w, p, need.x, need.w, need.b);
             return {r.dx, r.dw, r.db};
           });
  }
  return y;
}

Tensor linear(const Tensor& x, const Tensor& w, const Tensor& bias) {
  Tensor y = k::linear_forward(x, w, bias);
  if (needs_grad({&x, &w, &bias})) {
    record("linear", {x, w, bias}, {&y},
           [x = x.detach(), w = w.detach(), need = wanted(x, w, bias)](const Grads& g) -> Grads {
             k::LinearGrads r = k::linear_backward(g[0], x, w, need.x, need.w, need.b);
             return {r.dx, r.dw, r.db};
           });
  }
  return y;
}

}  // namespace wb::ops
