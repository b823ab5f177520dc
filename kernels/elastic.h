// Elastic channel slicing for NAS supernets: the active sub-kernel of a shared conv weight
// w [O, I, K, K] is w[:out, :in, c:c+k, c:c+k] with c = (K - k) / 2 (first channels, centred
// window); its gradient is scattered back into a zero tensor of the full weight's shape.
#pragma once
#include "tensor/tensor.h"

namespace wb::kernels {

struct ElasticSliceParams {
  int64_t out_channels = 0, in_channels = 0, kernel = 0;
};

Tensor elastic_slice_forward(const Tensor& w, const ElasticSliceParams& p);  // contiguous copy
Tensor elastic_slice_backward(const Tensor& dsub, const Shape& w_shape, const ElasticSliceParams& p);

namespace cpu {
void elastic_slice_forward(const Tensor& w, const ElasticSliceParams& p, Tensor& sub);
void elastic_slice_backward(const Tensor& dsub, const ElasticSliceParams& p, Tensor& dw);  // dw zeroed
}  // namespace cpu
namespace cuda {
void elastic_slice_forward(const Tensor& w, const ElasticSliceParams& p, Tensor& sub);
void elastic_slice_backward(const Tensor& dsub, const ElasticSliceParams& p, Tensor& dw);  // dw zeroed
}  // namespace cuda

}  // namespace wb::kernels
