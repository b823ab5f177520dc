// CPU reference for elastic channel slicing: a strided copy of the centred sub-kernel out of
// the shared weight, and its adjoint, the same copy in the other direction into a zeroed tensor.
#include <algorithm>

#include "kernels/common.h"
#include "kernels/elastic.h"

namespace wb::kernels::cpu {

void elastic_slice_forward(const Tensor& w, const ElasticSliceParams& p, Tensor& sub) {
  dispatch_float(w.dtype(), "elastic_slice", [&](auto tag) {
    using T = decltype(tag);
    const int64_t in_full = w.size(1), kf = w.size(2), k = p.kernel, c = (kf - k) / 2;
    const T* pw = w.data<T>();
    T* ps = sub.data<T>();
#pragma omp parallel for if (sub.numel() > 32768)
    for (int64_t o = 0; o < p.out_channels; ++o) {
      for (int64_t i = 0; i < p.in_channels; ++i) {
        const T* src = pw + ((o * in_full + i) * kf + c) * kf + c;
        T* dst = ps + (o * p.in_channels + i) * k * k;
        for (int64_t r = 0; r < k; ++r) std::copy(src + r * kf, src + r * kf + k, dst + r * k);
      }
    }
  });
}

void elastic_slice_backward(const Tensor& dsub, const ElasticSliceParams& p, Tensor& dw) {
  dispatch_float(dsub.dtype(), "elastic_slice_backward", [&](auto tag) {
    using T = decltype(tag);
    const int64_t in_full = dw.size(1), kf = dw.size(2), k = p.kernel, c = (kf - k) / 2;
    const T* ps = dsub.data<T>();
    T* pw = dw.data<T>();
#pragma omp parallel for if (dsub.numel() > 32768)
    for (int64_t o = 0; o < p.out_channels; ++o) {
      for (int64_t i = 0; i < p.in_channels; ++i) {
        const T* src = ps + (o * p.in_channels + i) * k * k;
        T* dst = pw + ((o * in_full + i) * kf + c) * kf + c;
        for (int64_t r = 0; r < k; ++r) std::copy(src + r * k, src + r * k + k, dst + r * kf);
      }
    }
  });
}

}  // namespace wb::kernels::cpu
