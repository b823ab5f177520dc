#include "autograd/ops_basic.h"

#include "autograd/node.h"
#include "kernels/concat.h"
#include "kernels/elementwise.h"
#include "kernels/reduce.h"

namespace wb::ops {

namespace k = wb::kernels;
using autograd::needs_grad;
using autograd::record;
using Grads = std::vector<Tensor>;

Tensor add(const Tensor& a, const Tensor& b) {
  Tensor y = k::add(a, b);
  if (needs_grad({&a, &b})) {
    record("add", {a, b}, {&y}, [sa = a.shape(), sb = b.shape()](const Grads& g) -> Grads {
      return {k::sum_to(g[0], sa), k::sum_to(g[0], sb)};
    });
  }
  return y;
}

Tensor sub(const Tensor& a, const Tensor& b) {
  Tensor y = k::sub(a, b);
  if (needs_grad({&a, &b})) {
    record("sub", {a, b}, {&y}, [sa = a.shape(), sb = b.shape()](const Grads& g) -> Grads {
      return {k::sum_to(g[0], sa), k::sum_to(k::scale(g[0], -1.0), sb)};
    });
  }
  return y;
}

Tensor mul(const Tensor& a, const Tensor& b) {
  Tensor y = k::mul(a, b);
  if (needs_grad({&a, &b})) {
    const bool ga = a.requires_grad(), gb = b.requires_grad();
    record("mul", {a, b}, {&y}, [a = a.detach(), b = b.detach(), ga, gb](const Grads& g) -> Grads {
      return {ga ? k::sum_to(k::mul(g[0], b), a.shape()) : Tensor(),
              gb ? k::sum_to(k::mul(g[0], a), b.shape()) : Tensor()};
    });
  }
  return y;
}

Tensor scale(const Tensor& a, double s) {
  Tensor y = k::scale(a, s);
  if (needs_grad({&a})) record("scale", {a}, {&y}, [s](const Grads& g) -> Grads { return {k::scale(g[0], s)}; });
  return y;
}

Tensor add_scalar(const Tensor& a, double s) {
  Tensor y = k::add_scalar(a, s);
  if (needs_grad({&a})) record("add_scalar", {a}, {&y}, [](const Grads& g) -> Grads { return {g[0]}; });
  return y;
}

Tensor sum(const Tensor& x) {
  Tensor y = k::sum_all(x);
  if (needs_grad({&x})) {
    record("sum", {x}, {&y}, [shape = x.shape()](const Grads& g) -> Grads {
      return {g[0].view({1}).expand(shape).contiguous()};
    });
  }
  return y;
}

Tensor mean(const Tensor& x) {
  Tensor y = k::mean_all(x);
  if (needs_grad({&x})) {
    record("mean", {x}, {&y}, [shape = x.shape(), n = x.numel()](const Grads& g) -> Grads {
      return {k::scale(g[0].view({1}).expand(shape).contiguous(), 1.0 / static_cast<double>(n))};
    });
  }
  return y;
}

Tensor relu(const Tensor& x) {
  Tensor y = k::relu_forward(x);
  if (needs_grad({&x})) {
    record("relu", {x}, {&y}, [y = y.detach()](const Grads& g) -> Grads { return {k::relu_backward(g[0], y)}; });
  }
  return y;
}

Tensor sigmoid(const Tensor& x) {
  Tensor y = k::sigmoid_forward(x);
  if (needs_grad({&x})) {
    record("sigmoid", {x}, {&y}, [y = y.detach()](const Grads& g) -> Grads { return {k::sigmoid_backward(g[0], y)}; });
  }
  return y;
}

Tensor hswish(const Tensor& x) {
  Tensor y = k::hswish_forward(x);
  if (needs_grad({&x})) {
    record("hswish", {x}, {&y}, [x = x.detach()](const Grads& g) -> Grads { return {k::hswish_backward(g[0], x)}; });
  }
  return y;
}

Tensor hsigmoid(const Tensor& x) {
  Tensor y = k::hsigmoid_forward(x);
  if (needs_grad({&x})) {
    record("hsigmoid", {x}, {&y},
           [x = x.detach()](const Grads& g) -> Grads { return {k::hsigmoid_backward(g[0], x)}; });
  }
  return y;
}

Tensor exp(const Tensor& x) {
  Tensor y = k::exp_forward(x);
  if (needs_grad({&x})) {
    record("exp", {x}, {&y}, [y = y.detach()](const Grads& g) -> Grads { return {k::exp_backward(g[0], y)}; });
  }
  return y;
}

Tensor log(const Tensor& x) {
  Tensor y = k::log_forward(x);
  if (needs_grad({&x})) {
    record("log", {x}, {&y}, [x = x.detach()](const Grads& g) -> Grads { return {k::log_backward(g[0], x)}; });
  }
  return y;
}

Tensor prelu(const Tensor& x, const Tensor& weight) {
  Tensor y = k::prelu_forward(x, weight);
  if (needs_grad({&x, &weight})) {
    record("prelu", {x, weight}, {&y}, [x = x.detach(), w = weight.detach()](const Grads& g) -> Grads {
      k::PReluGrads r = k::prelu_backward(g[0], x, w);
      return {r.dx, r.dweight};
    });
  }
  return y;
}

Tensor reshape(const Tensor& x, const Shape& shape) {
  // A fresh tensor object (sharing storage when possible) so that the graph sees a new output.
  Tensor y = x.reshape(shape).detach();
  if (needs_grad({&x})) {
    record("reshape", {x}, {&y}, [in = x.shape()](const Grads& g) -> Grads { return {g[0].reshape(in)}; });
  }
  return y;
}

Tensor permute(const Tensor& x, const std::vector<int64_t>& order) {
  Tensor y = x.permute(order).contiguous().detach();
  if (needs_grad({&x})) {
    std::vector<int64_t> inverse(order.size());
    for (size_t i = 0; i < order.size(); ++i) {
      const int64_t d = order[i] < 0 ? order[i] + x.dim() : order[i];
      inverse[static_cast<size_t>(d)] = static_cast<int64_t>(i);
    }
    record("permute", {x}, {&y}, [inverse](const Grads& g) -> Grads { return {g[0].permute(inverse).contiguous()}; });
  }
  return y;
}

Tensor narrow(const Tensor& x, int64_t dim, int64_t start, int64_t length) {
  if (dim < 0) dim += x.dim();
  Tensor y = x.narrow(dim, start, length).contiguous();
  if (y.same_storage(x)) y = y.clone();
  if (needs_grad({&x})) {
    record("narrow", {x}, {&y}, [shape = x.shape(), dim, start, length](const Grads& g) -> Grads {
      // Zero-padded back to the input's extent along dim.
      std::vector<Tensor> parts;
      Shape s = shape;
      if (start > 0) {
        s[dim] = start;
        parts.push_back(Tensor::zeros(s, g[0].dtype(), g[0].device()));
      }
      parts.push_back(g[0]);
      const int64_t after = shape[dim] - start - length;
      if (after > 0) {
        s[dim] = after;
        parts.push_back(Tensor::zeros(s, g[0].dtype(), g[0].device()));
      }
      return {k::concat(parts, dim)};
    });
  }
  return y;
}

Tensor concat(const std::vector<Tensor>& xs, int64_t dim) {
  Tensor y = k::concat(xs, dim);
  if (needs_grad(xs)) {
    if (dim < 0) dim += xs.front().dim();
    std::vector<int64_t> sizes;
    for (const Tensor& t : xs) sizes.push_back(t.size(dim));
    record("concat", xs, {&y}, [sizes, dim](const Grads& g) -> Grads { return k::split(g[0], sizes, dim); });
  }
  return y;
}

std::vector<Tensor> split(const Tensor& x, const std::vector<int64_t>& sizes, int64_t dim) {
  std::vector<Tensor> ys = k::split(x, sizes, dim);
  if (needs_grad({&x})) {
    if (dim < 0) dim += x.dim();
    std::vector<Tensor*> outs;
    for (Tensor& t : ys) outs.push_back(&t);
    record("split", {x}, outs, [dim](const Grads& g) -> Grads { return {k::concat(g, dim)}; });
  }
  return ys;
}

}  // namespace wb::ops
