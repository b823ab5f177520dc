#include "autograd/ops_pool.h"

#include "autograd/node.h"

namespace wb::ops {

namespace k = wb::kernels;
using autograd::needs_grad;
using autograd::record;
using Grads = std::vector<Tensor>;

Tensor max_pool2d(const Tensor& x, const k::Pool2dParams& p) {
  k::MaxPoolOut out = k::max_pool2d_forward(x, p);
  if (needs_grad({&x})) {
    record("max_pool2d", {x}, {&out.y}, [indices = out.indices, shape = x.shape()](const Grads& g) -> Grads {
      return {k::max_pool2d_backward(g[0], indices, shape)};
    });
  }
  return out.y;
}

Tensor avg_pool2d(const Tensor& x, const k::Pool2dParams& p) {
  Tensor y = k::avg_pool2d_forward(x, p);
  if (needs_grad({&x})) {
    record("avg_pool2d", {x}, {&y},
           [shape = x.shape(), p](const Grads& g) -> Grads { return {k::avg_pool2d_backward(g[0], shape, p)}; });
  }
  return y;
}

Tensor global_avg_pool(const Tensor& x) {
  Tensor y = k::global_avg_pool_forward(x);
  if (needs_grad({&x})) {
    record("global_avg_pool", {x}, {&y},
           [shape = x.shape()](const Grads& g) -> Grads { return {k::global_avg_pool_backward(g[0], shape)}; });
  }
  return y;
}

}  // namespace wb::ops
