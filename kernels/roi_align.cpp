#include "kernels/roi_align.h"

#include <cmath>

#include "kernels/common.h"

namespace wb::kernels {

namespace {

// Shapes and parameters, then, for CPU rois, the batch index of every RoI (an index outside
// [0, N) would read outside the features). CUDA rois are not copied to the host for this check,
// which would synchronise the stream on every call: the CUDA kernels instead write zeros for,
// and take no gradient from, a RoI whose batch index is outside [0, N).
void check_roi_align(const char* op, const Shape& x, const Tensor& rois, const RoIAlignParams& p) {
  check(x.size() == 4, op, ": features must be 4-d NCHW, got ", shape_str(x));
  check(x[2] > 0 && x[3] > 0, op, ": features ", shape_str(x), " have an empty spatial extent");
  check(rois.dim() == 2 && rois.size(1) == 5, op, ": rois must be [K, 5] (batch index, x1, y1, x2, y2), got ",
        rois.str(), " for features ", shape_str(x));
  check(p.out_h > 0 && p.out_w > 0, op, ": output size ", p.out_h, "x", p.out_w, " must be positive");
  check(p.sampling_ratio >= 0, op, ": sampling_ratio ", p.sampling_ratio, " must be >= 0 (0: adaptive)");
  check(std::isfinite(p.spatial_scale) && p.spatial_scale > 0.0, op, ": spatial_scale ", p.spatial_scale,
        " must be positive");
  if (rois.is_cuda()) return;
  const std::vector<double> r = rois.to_double_vector();
  for (int64_t k = 0; k < rois.size(0); ++k) {
    const double b = r[static_cast<size_t>(k * 5)];
    check(b >= 0.0 && b < static_cast<double>(x[0]) && b == std::floor(b), op, ": roi ", k, " has batch index ", b,
          ", not an integer in [0, ", x[0], ") for features ", shape_str(x));
  }
}

// Bilinear samples per output bin: the ratio given, or (adaptive) about 2 x 2 at the crop sizes the
// models use; 7 flops per sample and one more to average.
double roi_align_flops(int64_t outputs, const RoIAlignParams& p) {
  const double s = p.sampling_ratio > 0 ? static_cast<double>(p.sampling_ratio) : 2.0;
  return static_cast<double>(outputs) * (7 * s * s + 1);
}

}  // namespace

Tensor roi_align_forward(const Tensor& x_in, const Tensor& rois_in, const RoIAlignParams& p) {
  check_same_device("roi_align", {&x_in, &rois_in});
  check_same_float_dtype("roi_align", {&x_in, &rois_in});
  check_roi_align("roi_align", x_in.shape(), rois_in, p);
  const profile::OpScope prof("roi_align", {&x_in, &rois_in}, [&] {
    const Shape ys{rois_in.size(0), x_in.size(1), p.out_h, p.out_w};
    const double y = profile::bytes_of_shape(ys, x_in);
    return profile::Cost{roi_align_flops(static_cast<int64_t>(y) / static_cast<int64_t>(dtype_size(x_in.dtype())), p),
                         profile::bytes_of(x_in) + profile::bytes_of(rois_in) + y};
  });
  const Tensor x = x_in.contiguous(), rois = rois_in.contiguous();
  Tensor y = Tensor::empty({rois.size(0), x.size(1), p.out_h, p.out_w}, x.dtype(), x.device());
  if (y.numel() == 0) return y;
#if WBPOSE_WITH_CUDA
  if (x.is_cuda()) {
    check_cuda_f32("roi_align", x);
    cuda::roi_align_forward(x, rois, p, y);
    return y;
  }
#endif
  cpu::roi_align_forward(x, rois, p, y);
  return y;
}

Tensor roi_align_backward(const Tensor& dy_in, const Tensor& rois_in, const Shape& x_shape, const RoIAlignParams& p) {
  check_same_device("roi_align_backward", {&dy_in, &rois_in});
  check_same_float_dtype("roi_align_backward", {&dy_in, &rois_in});
  check_roi_align("roi_align_backward", x_shape, rois_in, p);
  const Shape want{rois_in.size(0), x_shape[1], p.out_h, p.out_w};
  check(dy_in.shape() == want, "roi_align_backward: gradient ", dy_in.str(), " does not match the output ",
        shape_str(want), " for features ", shape_str(x_shape), " and rois ", rois_in.str());
  const profile::OpScope prof("roi_align_backward", {&dy_in, &rois_in}, [&] {
    return profile::Cost{roi_align_flops(dy_in.numel(), p), profile::bytes_of(dy_in) + profile::bytes_of(rois_in) +
                                                              profile::bytes_of_shape(x_shape, dy_in)};
  });
  const Tensor dy = dy_in.contiguous(), rois = rois_in.contiguous();
  Tensor dx = Tensor::zeros(x_shape, dy.dtype(), dy.device());
  if (dy.numel() == 0 || dx.numel() == 0) return dx;
#if WBPOSE_WITH_CUDA
  if (dy.is_cuda()) {
    check_cuda_f32("roi_align_backward", dy);
    cuda::roi_align_backward(dy, rois, p, dx);
    return dx;
  }
#endif
  cpu::roi_align_backward(dy, rois, p, dx);
  return dx;
}

}  // namespace wb::kernels
