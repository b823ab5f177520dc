#include "kernels/concat.h"

#include "kernels/common.h"

namespace wb::kernels {

Tensor concat(const std::vector<Tensor>& xs, int64_t dim) {
  check(!xs.empty(), "concat: no tensors");
  const Tensor& first = xs.front();
  const int64_t nd = first.dim();
  if (dim < 0) dim += nd;
  check(dim >= 0 && dim < nd, "concat: dimension ", dim, " out of range for ", first.str());
  Shape out_shape = first.shape();
  out_shape[dim] = 0;
  for (const Tensor& t : xs) {
    check_same_device("concat", {&first, &t});
    check(t.dtype() == first.dtype(), "concat: mixed dtypes ", first.str(), " and ", t.str());
    check(t.dim() == nd, "concat: ", t.str(), " and ", first.str(), " differ in rank");
    for (int64_t d = 0; d < nd; ++d) {
      if (d != dim) check(t.size(d) == first.size(d), "concat: ", t.str(), " and ", first.str(), " differ outside dim ", dim);
    }
    out_shape[dim] += t.size(dim);
  }
  const profile::OpScope prof("concat", {&first}, [&] {
    const double out_bytes = profile::bytes_of_shape(out_shape, first);
    return profile::Cost{0, 2 * out_bytes};
  });
  Tensor out = Tensor::empty(out_shape, first.dtype(), first.device());
  int64_t offset = 0;
  for (const Tensor& t_in : xs) {
    const Tensor t = t_in.contiguous();
#if WBPOSE_WITH_CUDA
    if (out.is_cuda()) {
      cuda::copy_into_slab(t, out, dim, offset);
      offset += t.size(dim);
      continue;
    }
#endif
    cpu::copy_into_slab(t, out, dim, offset);
    offset += t.size(dim);
  }
  return out;
}

std::vector<Tensor> split(const Tensor& x, const std::vector<int64_t>& sizes, int64_t dim) {
  if (dim < 0) dim += x.dim();
  check(dim >= 0 && dim < x.dim(), "split: dimension ", dim, " out of range for ", x.str());
  int64_t total = 0;
  for (int64_t s : sizes) total += s;
  check(total == x.size(dim), "split: sizes sum to ", total, " but ", x.str(), " has ", x.size(dim), " along dim ", dim);
  // The copying is the nested contiguous() calls', which carry its bytes.
  const profile::OpScope prof("split", {&x}, [] { return profile::Cost{}; });
  std::vector<Tensor> out;
  int64_t offset = 0;
  for (int64_t s : sizes) {
    out.push_back(x.narrow(dim, offset, s).contiguous());
    offset += s;
  }
  return out;
}

}  // namespace wb::kernels
