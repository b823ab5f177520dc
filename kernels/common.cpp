#include "kernels/common.h"

#include <algorithm>

namespace wb::kernels {

void check_same_device(const char* op, std::initializer_list<const Tensor*> ts) {
  const Tensor* first = nullptr;
  for (const Tensor* t : ts) {
    if (!t->defined()) continue;
    if (!first) {
      first = t;
      continue;
    }
    check(t->device() == first->device(), op, ": tensors on different devices: ", first->str(), " and ", t->str());
  }
}

void check_same_float_dtype(const char* op, std::initializer_list<const Tensor*> ts) {
  const Tensor* first = nullptr;
  for (const Tensor* t : ts) {
    if (!t->defined()) continue;
    check(t->dtype() == DType::F32 || t->dtype() == DType::F64, op, ": dtype ", dtype_name(t->dtype()), " of ",
          t->str(), " is not supported (f32 or f64)");
    if (!first) {
      first = t;
      continue;
    }
    check(t->dtype() == first->dtype(), op, ": mixed dtypes ", first->str(), " and ", t->str());
  }
}

void check_dim(const char* op, const char* name, const Tensor& t, int64_t ndim) {
  check(t.defined(), op, ": ", name, " is undefined");
  check(t.dim() == ndim, op, ": ", name, " must be ", ndim, "-d, got ", t.str());
}

void check_cuda_f32(const char* op, const Tensor& t) {
  check(t.dtype() == DType::F32, op, ": CUDA kernels take f32, got ", t.str());
}

Shape broadcast_shapes(const char* op, const Shape& a, const Shape& b) {
  const size_t n = std::max(a.size(), b.size());
  Shape out(n);
  for (size_t i = 0; i < n; ++i) {
    const int64_t da = i < n - a.size() ? 1 : a[i - (n - a.size())];
    const int64_t db = i < n - b.size() ? 1 : b[i - (n - b.size())];
    check(da == db || da == 1 || db == 1, op, ": shapes ", shape_str(a), " and ", shape_str(b), " do not broadcast");
    out[i] = da == 1 ? db : da;
  }
  return out;
}

}  // namespace wb::kernels
