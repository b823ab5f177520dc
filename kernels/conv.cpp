#include "kernels/conv.h"

#include <atomic>
#include <sstream>

#include "kernels/common.h"
#include "kernels/elementwise.h"

namespace wb::kernels {

namespace {

std::atomic<ConvAlgo> g_conv_algo{ConvAlgo::Native};

std::string params_str(const Conv2dParams& p) {
  std::ostringstream os;
  os << "stride [" << p.stride[0] << ", " << p.stride[1] << "], padding [" << p.padding[0] << ", " << p.padding[1]
     << "], dilation [" << p.dilation[0] << ", " << p.dilation[1] << "], output_padding [" << p.output_padding[0]
     << ", " << p.output_padding[1] << "], groups " << p.groups;
  return os.str();
}

void check_params(const char* op, const Conv2dParams& p) {
  for (int d = 0; d < 2; ++d) {
    check(p.stride[d] > 0 && p.dilation[d] > 0 && p.padding[d] >= 0 && p.output_padding[d] >= 0, op,
          ": invalid parameters (", params_str(p), ")");
  }
  check(p.groups > 0, op, ": groups must be positive (", params_str(p), ")");
}

// x [N, C, H, W], w [O, C/groups, kh, kw], bias [O] or undefined.
void check_conv2d(const char* op, const Tensor& x, const Tensor& w, const Tensor& bias, const Conv2dParams& p) {
  check_dim(op, "input", x, 4);
  check_dim(op, "weight", w, 4);
  check_same_device(op, {&x, &w, &bias});
  check_same_float_dtype(op, {&x, &w, &bias});
  check_params(op, p);
  const int64_t c = x.size(1), o = w.size(0);
  check(c > 0 && c % p.groups == 0 && o % p.groups == 0, op, ": input ", x.str(), " and weight ", w.str(),
        ": channels are not divisible by groups ", p.groups);
  check(w.size(1) == c / p.groups && o > 0 && w.size(2) > 0 && w.size(3) > 0, op, ": weight ", w.str(),
        " does not fit input ", x.str(), " with groups ", p.groups, " (need [out, ", c / p.groups, ", kh, kw])");
  if (bias.defined()) {
    check(bias.dim() == 1 && bias.size(0) == o, op, ": bias ", bias.str(), " for weight ", w.str(), " (need [", o,
          "])");
  }
}

// x [N, C, H, W], w [C, O/groups, kh, kw], bias [O] or undefined.
void check_conv_transpose2d(const char* op, const Tensor& x, const Tensor& w, const Tensor& bias,
                            const Conv2dParams& p) {
  check_dim(op, "input", x, 4);
  check_dim(op, "weight", w, 4);
  check_same_device(op, {&x, &w, &bias});
  check_same_float_dtype(op, {&x, &w, &bias});
  check_params(op, p);
  const int64_t c = x.size(1);
  check(c > 0 && c % p.groups == 0, op, ": input ", x.str(), " and weight ", w.str(),
        ": channels are not divisible by groups ",
        p.groups);
  check(w.size(0) == c && w.size(1) > 0 && w.size(2) > 0 && w.size(3) > 0, op, ": weight ", w.str(),
        " does not fit input ", x.str(), " (need [", c, ", out/groups, kh, kw])");
  const int64_t o = w.size(1) * p.groups;
  if (bias.defined()) {
    check(bias.dim() == 1 && bias.size(0) == o, op, ": bias ", bias.str(), " for weight ", w.str(), " and groups ",
          p.groups, " (need [", o, "])");
  }
}

void check_grad_shape(const char* op, const Tensor& dy, const Shape& expected) {
  check(dy.defined() && dy.shape() == expected, op, ": gradient ", dy.defined() ? dy.str() : "undefined",
        " does not match the output shape ", shape_str(expected));
}

// The profile cost of a convolution: `pixels` positions of the weight's numel multiply-adds each
// (a conv's output pixels; a transposed conv's input pixels, which is the work it does), times
// `passes` (backward: one for dx, one for dw). `paper_pixels`: the pixels the papers' FLOPs
// convention counts, output pixels for both kinds (nn/flops.h).
profile::Cost conv_cost(const Tensor& w, int64_t pixels, int64_t paper_pixels, int passes,
                        std::initializer_list<const Tensor*> tensors, double out_bytes) {
  profile::Cost c;
  const double macs = static_cast<double>(w.numel()) * static_cast<double>(pixels);
  c.flops = 2 * macs * passes;
  c.macs = passes == 1 ? w.numel() * paper_pixels : 0;
  for (const Tensor* t : tensors) c.bytes += profile::bytes_of(*t);
  c.bytes += out_bytes;
  return c;
}

// The CUDA dispatcher sees a concrete algorithm: Default is resolved here, once.
Conv2dParams resolved(const Conv2dParams& p) {
  Conv2dParams r = p;
  if (r.algo == ConvAlgo::Default) r.algo = conv_algo();
  return r;
}

}  // namespace

// Default resets to the built-in choice, our own kernels.
void set_conv_algo(ConvAlgo a) { g_conv_algo = a == ConvAlgo::Default ? ConvAlgo::Native : a; }
ConvAlgo conv_algo() { return g_conv_algo; }

std::array<int64_t, 2> conv2d_output_hw(const Shape& x, const Shape& w, const Conv2dParams& p) {
  check(x.size() == 4 && w.size() == 4, "conv2d: input ", shape_str(x), " and weight ", shape_str(w), " must be 4-d");
  std::array<int64_t, 2> out{};
  for (int d = 0; d < 2; ++d) {
    const int64_t span = p.dilation[d] * (w[2 + d] - 1) + 1;
    const int64_t padded = x[2 + d] + 2 * p.padding[d];
    check(padded >= span, "conv2d: input ", shape_str(x), " with padding [", p.padding[0], ", ", p.padding[1],
          "] is smaller than the dilated kernel of weight ", shape_str(w), " (dilation [", p.dilation[0], ", ",
          p.dilation[1], "]): empty output");
    out[d] = (padded - span) / p.stride[d] + 1;
  }
  return out;
}

std::array<int64_t, 2> conv_transpose2d_output_hw(const Shape& x, const Shape& w, const Conv2dParams& p) {
  check(x.size() == 4 && w.size() == 4, "conv_transpose2d: input ", shape_str(x), " and weight ", shape_str(w),
        " must be 4-d");
  std::array<int64_t, 2> out{};
  for (int d = 0; d < 2; ++d) {
    // PyTorch's rule: extra rows are only meaningful when they fall inside one stride or dilation step.
    check(p.output_padding[d] < p.stride[d] || p.output_padding[d] < p.dilation[d],
          "conv_transpose2d: output_padding [", p.output_padding[0], ", ", p.output_padding[1],
          "] must be smaller than stride or dilation (", params_str(p), ")");
    out[d] = (x[2 + d] - 1) * p.stride[d] - 2 * p.padding[d] + p.dilation[d] * (w[2 + d] - 1) + p.output_padding[d] +
             1;
    check(out[d] > 0 && x[2 + d] > 0, "conv_transpose2d: input ", shape_str(x), " and weight ", shape_str(w),
          " with ", params_str(p), " give an empty output");
  }
  return out;
}

Tensor conv2d_forward(const Tensor& x, const Tensor& w, const Tensor& bias, const Conv2dParams& p) {
  ConvEpilogue e;
  e.bias = bias;
  return conv2d_forward_fused(x, w, e, p);
}

Tensor conv2d_forward_fused(const Tensor& x_in, const Tensor& w_in, const ConvEpilogue& e_in,
                            const Conv2dParams& p_in) {
  check_conv2d("conv2d", x_in, w_in, e_in.bias, p_in);
  check_same_device("conv2d", {&x_in, &e_in.scale, &e_in.residual});
  check_same_float_dtype("conv2d", {&x_in, &e_in.scale, &e_in.residual});
  const auto [ho, wo] = conv2d_output_hw(x_in.shape(), w_in.shape(), p_in);
  const Shape ys{x_in.size(0), w_in.size(0), ho, wo};
  const profile::OpScope prof("conv2d", {&x_in, &w_in}, [&] {
    return conv_cost(w_in, ys[0] * ho * wo, ys[0] * ho * wo, 1, {&x_in, &w_in, &e_in.residual},
                     profile::bytes_of_shape(ys, x_in));
  });
  if (e_in.scale.defined()) {
    check(e_in.scale.dim() == 1 && e_in.scale.size(0) == ys[1], "conv2d: scale ", e_in.scale.str(), " for weight ",
          w_in.str(), " (need [", ys[1], "])");
  }
  if (e_in.residual.defined()) {
    check(e_in.residual.shape() == ys, "conv2d: residual ", e_in.residual.str(), " does not match the output shape ",
          shape_str(ys));
  }
  const Tensor x = x_in.contiguous(), w = w_in.contiguous();
  auto contiguous = [](const Tensor& t) { return t.defined() ? t.contiguous() : Tensor(); };
  const ConvEpilogue e{contiguous(e_in.scale), contiguous(e_in.bias), contiguous(e_in.residual)};
  const Conv2dParams p = resolved(p_in);
  Tensor y = Tensor::empty(ys, x.dtype(), x.device());
#if WBPOSE_WITH_CUDA
  if (x.is_cuda()) {
    // The CUDA kernels have no epilogue (yet): the scale goes into the weights, the rest runs after.
    check_cuda_f32("conv2d", x);
    cuda::conv2d_forward(x, e.scale.defined() ? mul(w, e.scale.view({ys[1], 1, 1, 1})) : w, e.bias, p, y);
    if (e.residual.defined()) y = add(y, e.residual);
    return p.relu ? relu_forward(y) : y;
  }
#endif
  cpu::conv2d_forward(x, w, e, p, y);
  return y;
}

ConvGrads conv2d_backward(const Tensor& dy_in, const Tensor& x_in, const Tensor& w_in, const Conv2dParams& p_in,
                          bool need_dx, bool need_dw, bool need_db) {
  check_conv2d("conv2d_backward", x_in, w_in, Tensor(), p_in);
  const auto [ho, wo] = conv2d_output_hw(x_in.shape(), w_in.shape(), p_in);
  check_same_device("conv2d_backward", {&dy_in, &x_in});
  check_same_float_dtype("conv2d_backward", {&dy_in, &x_in});
  check_grad_shape("conv2d_backward", dy_in, {x_in.size(0), w_in.size(0), ho, wo});
  const profile::OpScope prof("conv2d_backward", {&dy_in, &x_in, &w_in}, [&] {
    const int64_t pixels = x_in.size(0) * ho * wo;
    return conv_cost(w_in, pixels, pixels, int(need_dx) + int(need_dw), {&dy_in, &x_in, &w_in},
                     (need_dx ? profile::bytes_of(x_in) : 0.0) + (need_dw ? profile::bytes_of(w_in) : 0.0));
  });
  const Tensor dy = dy_in.contiguous(), x = x_in.contiguous(), w = w_in.contiguous();
  const Conv2dParams p = resolved(p_in);
  ConvGrads g;
  if (need_dx) g.dx = Tensor::empty(x.shape(), x.dtype(), x.device());
  if (need_dw) g.dw = Tensor::empty(w.shape(), w.dtype(), w.device());
  if (need_db) g.db = Tensor::empty({w.size(0)}, w.dtype(), w.device());
  if (!need_dx && !need_dw && !need_db) return g;
#if WBPOSE_WITH_CUDA
  if (x.is_cuda()) {
    check_cuda_f32("conv2d_backward", x);
    cuda::conv2d_backward(dy, x, w, p, g);
    return g;
  }
#endif
  cpu::conv2d_backward(dy, x, w, p, g);
  return g;
}

Tensor conv_transpose2d_forward(const Tensor& x_in, const Tensor& w_in, const Tensor& b_in,
                                const Conv2dParams& p_in) {
  check(!p_in.relu, "conv_transpose2d: the fused ReLU (Conv2dParams::relu) is for conv2d_forward only");
  check_conv_transpose2d("conv_transpose2d", x_in, w_in, b_in, p_in);
  const auto [ho, wo] = conv_transpose2d_output_hw(x_in.shape(), w_in.shape(), p_in);
  const profile::OpScope prof("conv_transpose2d", {&x_in, &w_in}, [&] {
    const int64_t n = x_in.size(0);
    return conv_cost(w_in, n * x_in.size(2) * x_in.size(3), n * ho * wo, 1, {&x_in, &w_in, &b_in},
                     profile::bytes_of_shape({n, w_in.size(1) * p_in.groups, ho, wo}, x_in));
  });
  const Tensor x = x_in.contiguous(), w = w_in.contiguous();
  const Tensor b = b_in.defined() ? b_in.contiguous() : Tensor();
  const Conv2dParams p = resolved(p_in);
  Tensor y = Tensor::empty({x.size(0), w.size(1) * p.groups, ho, wo}, x.dtype(), x.device());
#if WBPOSE_WITH_CUDA
  if (x.is_cuda()) {
    check_cuda_f32("conv_transpose2d", x);
    cuda::conv_transpose2d_forward(x, w, b, p, y);
    return y;
  }
#endif
  cpu::conv_transpose2d_forward(x, w, b, p, y);
  return y;
}

ConvGrads conv_transpose2d_backward(const Tensor& dy_in, const Tensor& x_in, const Tensor& w_in,
                                    const Conv2dParams& p_in, bool need_dx, bool need_dw, bool need_db) {
  check_conv_transpose2d("conv_transpose2d_backward", x_in, w_in, Tensor(), p_in);
  const auto [ho, wo] = conv_transpose2d_output_hw(x_in.shape(), w_in.shape(), p_in);
  check_same_device("conv_transpose2d_backward", {&dy_in, &x_in});
  check_same_float_dtype("conv_transpose2d_backward", {&dy_in, &x_in});
  check_grad_shape("conv_transpose2d_backward", dy_in, {x_in.size(0), w_in.size(1) * p_in.groups, ho, wo});
  const profile::OpScope prof("conv_transpose2d_backward", {&dy_in, &x_in, &w_in}, [&] {
    const int64_t pixels = x_in.size(0) * x_in.size(2) * x_in.size(3);
    return conv_cost(w_in, pixels, pixels, int(need_dx) + int(need_dw), {&dy_in, &x_in, &w_in},
                     (need_dx ? profile::bytes_of(x_in) : 0.0) + (need_dw ? profile::bytes_of(w_in) : 0.0));
  });
  const Tensor dy = dy_in.contiguous(), x = x_in.contiguous(), w = w_in.contiguous();
  const Conv2dParams p = resolved(p_in);
  ConvGrads g;
  if (need_dx) g.dx = Tensor::empty(x.shape(), x.dtype(), x.device());
  if (need_dw) g.dw = Tensor::empty(w.shape(), w.dtype(), w.device());
  if (need_db) g.db = Tensor::empty({w.size(1) * p.groups}, w.dtype(), w.device());
  if (!need_dx && !need_dw && !need_db) return g;
#if WBPOSE_WITH_CUDA
  if (x.is_cuda()) {
    check_cuda_f32("conv_transpose2d_backward", x);
    cuda::conv_transpose2d_backward(dy, x, w, p, g);
    return g;
  }
#endif
  cpu::conv_transpose2d_backward(dy, x, w, p, g);
  return g;
}

}  // namespace wb::kernels
