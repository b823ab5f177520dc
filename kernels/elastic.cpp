#include "kernels/elastic.h"

#include "kernels/common.h"

namespace wb::kernels {

namespace {

// The active sub-kernel must fit inside the shared weight and sit at its centre, which needs
// K - k even (elastic kernels are odd sizes: 7 -> 5 -> 3).
void check_elastic(const char* op, const Shape& w, const ElasticSliceParams& p) {
  check(w.size() == 4 && w[2] == w[3], op, ": weight must be [O, I, K, K], got ", shape_str(w));
  check(p.out_channels >= 1 && p.out_channels <= w[0] && p.in_channels >= 1 && p.in_channels <= w[1] &&
            p.kernel >= 1 && p.kernel <= w[2],
        op, ": sub-kernel [", p.out_channels, ", ", p.in_channels, ", ", p.kernel, ", ", p.kernel,
        "] does not fit in weight ", shape_str(w));
  check((w[2] - p.kernel) % 2 == 0, op, ": kernel ", p.kernel, " cannot be centred in weight ", shape_str(w),
        " (K - k must be even)");
}

}  // namespace

Tensor elastic_slice_forward(const Tensor& w_in, const ElasticSliceParams& p) {
  check_same_float_dtype("elastic_slice", {&w_in});
  check_elastic("elastic_slice", w_in.shape(), p);
  const profile::OpScope prof("elastic_slice", {&w_in}, [&] {
    return profile::Cost{0, 2 * profile::bytes_of_shape({p.out_channels, p.in_channels, p.kernel, p.kernel}, w_in)};
  });
  const Tensor w = w_in.contiguous();
  Tensor sub = Tensor::empty({p.out_channels, p.in_channels, p.kernel, p.kernel}, w.dtype(), w.device());
#if WBPOSE_WITH_CUDA
  if (w.is_cuda()) {
    check_cuda_f32("elastic_slice", w);
    cuda::elastic_slice_forward(w, p, sub);
    return sub;
  }
#endif
  cpu::elastic_slice_forward(w, p, sub);
  return sub;
}

Tensor elastic_slice_backward(const Tensor& dsub_in, const Shape& w_shape, const ElasticSliceParams& p) {
  check_same_float_dtype("elastic_slice_backward", {&dsub_in});
  check_elastic("elastic_slice_backward", w_shape, p);
  const Shape want{p.out_channels, p.in_channels, p.kernel, p.kernel};
  check(dsub_in.shape() == want, "elastic_slice_backward: gradient ", dsub_in.str(), " does not match the sub-kernel ",
        shape_str(want), " of weight ", shape_str(w_shape));
  const profile::OpScope prof("elastic_slice_backward", {&dsub_in}, [&] {
    return profile::Cost{0, profile::bytes_of(dsub_in) + profile::bytes_of_shape(w_shape, dsub_in)};
  });
  const Tensor dsub = dsub_in.contiguous();
  Tensor dw = Tensor::zeros(w_shape, dsub.dtype(), dsub.device());
#if WBPOSE_WITH_CUDA
  if (dsub.is_cuda()) {
    check_cuda_f32("elastic_slice_backward", dsub);
    cuda::elastic_slice_backward(dsub, p, dw);
    return dw;
  }
#endif
  cpu::elastic_slice_backward(dsub, p, dw);
  return dw;
}

}  // namespace wb::kernels
