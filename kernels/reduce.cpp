#include "kernels/reduce.h"

#include "kernels/common.h"
#include "kernels/elementwise.h"

namespace wb::kernels {

namespace {

Tensor sum_middle_dispatch(const Tensor& x, int64_t outer, int64_t reduce, int64_t inner) {
  const profile::OpScope prof("sum", {&x}, [&] {
    return profile::Cost{static_cast<double>(x.numel()), profile::bytes_of(x) + profile::bytes_of_shape({outer, inner}, x)};
  });
  Tensor out = Tensor::empty({outer, inner}, x.dtype(), x.device());
#if WBPOSE_WITH_CUDA
  if (x.is_cuda()) {
    check_cuda_f32("sum", x);
    cuda::sum_middle(x, outer, reduce, inner, out);
    return out;
  }
#endif
  cpu::sum_middle(x, outer, reduce, inner, out);
  return out;
}

}  // namespace

Tensor sum_all(const Tensor& x_in) {
  check_same_float_dtype("sum_all", {&x_in});
  const Tensor x = x_in.contiguous();
  return sum_middle_dispatch(x, 1, x.numel(), 1).view({});
}

Tensor mean_all(const Tensor& x) {
  check(x.numel() > 0, "mean_all: empty tensor ", x.str());
  return scale(sum_all(x), 1.0 / static_cast<double>(x.numel()));
}

Tensor sum_to(const Tensor& x_in, const Shape& shape) {
  check_same_float_dtype("sum_to", {&x_in});
  if (x_in.shape() == shape) return x_in;
  check(broadcast_shapes("sum_to", x_in.shape(), shape) == x_in.shape(), "sum_to: cannot reduce ", x_in.str(), " to ",
        shape_str(shape));
  // Reduce one run of broadcast dimensions at a time, viewing x as [outer, reduce, inner].
  Tensor x = x_in.contiguous();
  const size_t lead = x.shape().size() - shape.size();
  Shape target(lead, 1);  // leading broadcast dims count as size 1
  target.insert(target.end(), shape.begin(), shape.end());
  Shape cur = x.shape();
  size_t d = 0;
  while (d < cur.size()) {
    if (cur[d] == target[d]) {
      ++d;
      continue;
    }
    size_t e = d;
    while (e < cur.size() && cur[e] != target[e]) ++e;
    int64_t outer = 1, reduce = 1, inner = 1;
    for (size_t i = 0; i < d; ++i) outer *= cur[i];
    for (size_t i = d; i < e; ++i) reduce *= cur[i];
    for (size_t i = e; i < cur.size(); ++i) inner *= cur[i];
    x = sum_middle_dispatch(x, outer, reduce, inner);
    for (size_t i = d; i < e; ++i) cur[i] = 1;
    x = x.view(cur);
    d = e;
  }
  return x.view(shape);
}

}  // namespace wb::kernels
