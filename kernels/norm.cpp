#include "kernels/norm.h"

#include <cmath>
#include <vector>

#include "kernels/common.h"

namespace wb::kernels {

namespace {

// x is [N, C, ...] (NCHW in the models; [N, C] works the same way, as in BatchNorm1d).
// gamma and beta are per-channel parameters; `stats` are per-channel statistics, any of which
// may be undefined when the caller allows it.
void check_bn(const char* op, const Tensor& x, const Tensor& gamma, const Tensor& beta,
              std::initializer_list<const Tensor*> stats) {
  check(x.defined(), op, ": x is undefined");
  check(x.dim() >= 2, op, ": x must be [N, C, ...], got ", x.str());
  check(gamma.defined() && beta.defined(), op, ": gamma and beta are required (x ", x.str(), ")");
  check_same_device(op, {&x, &gamma, &beta});
  check_same_float_dtype(op, {&x, &gamma, &beta});
  const int64_t c = x.size(1);
  for (const Tensor* t : {&gamma, &beta}) {
    check(t->dim() == 1 && t->size(0) == c, op, ": parameter ", t->str(), " does not match the ", c, " channels of x ",
          x.str());
  }
  for (const Tensor* t : stats) {
    if (!t->defined()) continue;
    check_same_device(op, {&x, t});
    check_same_float_dtype(op, {&x, t});
    check(t->dim() == 1 && t->size(0) == c, op, ": statistic ", t->str(), " does not match the ", c, " channels of x ",
          x.str());
  }
}

Tensor empty_like_channels(const Tensor& x) { return Tensor::empty({x.size(1)}, x.dtype(), x.device()); }

}  // namespace

BatchNormTrainOut batch_norm_train_forward(const Tensor& x_in, const Tensor& gamma_in, const Tensor& beta_in,
                                           Tensor& running_mean, Tensor& running_var, const BatchNormParams& p) {
  const char* op = "batch_norm";
  check_bn(op, x_in, gamma_in, beta_in, {&running_mean, &running_var});
  int64_t per_channel = x_in.size(0);
  for (int64_t d = 2; d < x_in.dim(); ++d) per_channel *= x_in.size(d);
  // One value per channel has no variance; PyTorch refuses it for the same reason.
  check(per_channel > 1, op, ": training needs more than one value per channel, got x ", x_in.str());
  // Statistics (sum and sum of squares: 3 per element) and the normalisation (2), ReLU aside.
  const profile::OpScope prof(op, {&x_in, &gamma_in}, [&] { return profile::elementwise_cost({&x_in}, x_in, 5); });
  for (const Tensor* t : {&running_mean, &running_var}) {
    check(!t->defined() || t->is_contiguous(), op, ": running statistic ", t->str(),
          " must be contiguous to be updated in place");
  }
  const Tensor x = x_in.contiguous(), gamma = gamma_in.contiguous(), beta = beta_in.contiguous();
  BatchNormTrainOut out{Tensor::empty(x.shape(), x.dtype(), x.device()), empty_like_channels(x),
                        empty_like_channels(x)};
#if WBPOSE_WITH_CUDA
  if (x.is_cuda()) {
    check_cuda_f32(op, x);
    cuda::batch_norm_train_forward(x, gamma, beta, running_mean, running_var, p, out);
    return out;
  }
#endif
  cpu::batch_norm_train_forward(x, gamma, beta, running_mean, running_var, p, out);
  return out;
}

Tensor batch_norm_eval_forward(const Tensor& x_in, const Tensor& gamma_in, const Tensor& beta_in,
                               const Tensor& running_mean_in, const Tensor& running_var_in, const BatchNormParams& p) {
  const char* op = "batch_norm (eval)";
  check_bn(op, x_in, gamma_in, beta_in, {&running_mean_in, &running_var_in});
  check(running_mean_in.defined() && running_var_in.defined(), op,
        ": evaluation needs running_mean and running_var (x ", x_in.str(), ")");
  const Tensor x = x_in.contiguous(), gamma = gamma_in.contiguous(), beta = beta_in.contiguous();
  const profile::OpScope prof(op, {&x_in, &gamma_in}, [&] { return profile::elementwise_cost({&x_in}, x_in, 2); });
  const Tensor rm = running_mean_in.contiguous(), rv = running_var_in.contiguous();
  Tensor y = Tensor::empty(x.shape(), x.dtype(), x.device());
#if WBPOSE_WITH_CUDA
  if (x.is_cuda()) {
    check_cuda_f32(op, x);
    cuda::batch_norm_eval_forward(x, gamma, beta, rm, rv, p, y);
    return y;
  }
#endif
  cpu::batch_norm_eval_forward(x, gamma, beta, rm, rv, p, y);
  return y;
}

namespace {

BatchNormGrads bn_backward(const char* op, const Tensor& dy_in, const Tensor& x_in, const Tensor& y_in,
                           const Tensor& gamma_in, const Tensor& mean_in, const Tensor& invstd_in, bool train,
                           const BatchNormParams& p) {
  check(dy_in.defined() && dy_in.shape() == x_in.shape(), op, ": gradient ",
        dy_in.defined() ? dy_in.str() : std::string("(undefined)"), " does not match x ", x_in.str());
  check_same_device(op, {&dy_in, &x_in});
  check_same_float_dtype(op, {&dy_in, &x_in});
  if (p.relu) {
    check(y_in.defined() && y_in.shape() == x_in.shape(), op,
          ": the fused ReLU needs the forward output y of x's shape ", x_in.str(), ", got ",
          y_in.defined() ? y_in.str() : std::string("(undefined)"));
    check_same_device(op, {&y_in, &x_in});
    check_same_float_dtype(op, {&y_in, &x_in});
  }
  // Per-channel sums of dy and dy * x-hat (4 per element), then dx (train: 5, eval: 2).
  const profile::OpScope prof(op, {&dy_in, &x_in}, [&] {
    return profile::elementwise_cost({&dy_in, &x_in, p.relu ? &y_in : nullptr}, x_in, train ? 9 : 6);
  });
  const Tensor dy = dy_in.contiguous(), x = x_in.contiguous(), gamma = gamma_in.contiguous();
  const Tensor y = p.relu ? y_in.contiguous() : Tensor();
  const Tensor mean = mean_in.contiguous(), invstd = invstd_in.contiguous();
  BatchNormGrads g{Tensor::empty(x.shape(), x.dtype(), x.device()), empty_like_channels(x), empty_like_channels(x)};
#if WBPOSE_WITH_CUDA
  if (x.is_cuda()) {
    check_cuda_f32(op, x);
    cuda::batch_norm_backward(dy, x, y, gamma, mean, invstd, train, p, g);
    return g;
  }
#endif
  cpu::batch_norm_backward(dy, x, y, gamma, mean, invstd, train, p, g);
  return g;
}

}  // namespace

BatchNormGrads batch_norm_train_backward(const Tensor& dy, const Tensor& x, const Tensor& y, const Tensor& gamma,
                                         const Tensor& save_mean, const Tensor& save_invstd, const BatchNormParams& p) {
  const char* op = "batch_norm_backward";
  // beta does not enter the backward; gamma stands in for it in the shape checks.
  check_bn(op, x, gamma, gamma, {&save_mean, &save_invstd});
  check(save_mean.defined() && save_invstd.defined(), op, ": the saved batch statistics are required (x ", x.str(),
        ")");
  return bn_backward(op, dy, x, y, gamma, save_mean, save_invstd, true, p);
}

BatchNormGrads batch_norm_eval_backward(const Tensor& dy, const Tensor& x, const Tensor& y, const Tensor& gamma,
                                        const Tensor& running_mean, const Tensor& running_var,
                                        const BatchNormParams& p) {
  const char* op = "batch_norm_backward (eval)";
  check_bn(op, x, gamma, gamma, {&running_mean, &running_var});
  check(running_mean.defined() && running_var.defined(), op, ": running_mean and running_var are required (x ", x.str(),
        ")");
  // The backends take 1/sqrt(var + eps). It is [C] values, so it is formed on the host rather than
  // by a kernel of its own; eval-mode backward (frozen statistics) is rare enough for the copy.
  std::vector<double> invstd = running_var.to_double_vector();
  for (double& v : invstd) v = 1.0 / std::sqrt(v + p.eps);
  const Tensor invstd_t = Tensor::from_vector(invstd, {x.size(1)}, x.dtype(), x.device());
  return bn_backward(op, dy, x, y, gamma, running_mean, invstd_t, false, p);
}

}  // namespace wb::kernels
