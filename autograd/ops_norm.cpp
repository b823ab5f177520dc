#include "autograd/ops_norm.h"

#include <cmath>
#include <vector>

#include "autograd/node.h"
#include "kernels/concat.h"
#include "kernels/elementwise.h"
#include "kernels/reduce.h"
#include "tensor/error.h"

namespace wb::ops {

namespace k = wb::kernels;
using autograd::needs_grad;
using autograd::record;
using Grads = std::vector<Tensor>;

Tensor batch_norm(const Tensor& x, const Tensor& gamma, const Tensor& beta, Tensor& running_mean, Tensor& running_var,
                  bool training, const k::BatchNormParams& p) {
  if (training) {
    k::BatchNormTrainOut out = k::batch_norm_train_forward(x, gamma, beta, running_mean, running_var, p);
    if (needs_grad({&x, &gamma, &beta})) {
      // y is kept only when the fused ReLU needs it to mask the gradient.
      record("batch_norm", {x, gamma, beta}, {&out.y},
             [x = x.detach(), y = p.relu ? out.y.detach() : Tensor(), gamma = gamma.detach(), mean = out.save_mean,
              invstd = out.save_invstd, p](const Grads& g) -> Grads {
               k::BatchNormGrads r = k::batch_norm_train_backward(g[0], x, y, gamma, mean, invstd, p);
               return {r.dx, r.dgamma, r.dbeta};
             });
    }
    return out.y;
  }
  Tensor y = k::batch_norm_eval_forward(x, gamma, beta, running_mean, running_var, p);
  if (needs_grad({&x, &gamma, &beta})) {
    record("batch_norm (eval)", {x, gamma, beta}, {&y},
           [x = x.detach(), y = p.relu ? y.detach() : Tensor(), gamma = gamma.detach(), rm = running_mean.detach(),
            rv = running_var.detach(), p](const Grads& g) -> Grads {
             k::BatchNormGrads r = k::batch_norm_eval_backward(g[0], x, y, gamma, rm, rv, p);
             return {r.dx, r.dgamma, r.dbeta};
           });
  }
  return y;
}

namespace {

// x's per-channel sums over (N, H, W), summed over the ranks: C doubles on the host, then, with
// `count`, the number of values per channel summed over the ranks (one all-reduce for both).
std::vector<double> channel_sums(const Tensor& x, dist::Communicator& comm, bool count = false) {
  Shape per_channel(static_cast<size_t>(x.dim()), 1);
  per_channel[1] = x.size(1);
  Tensor s = k::sum_to(x, per_channel).reshape({x.size(1)}).to(DType::F64).to(Device::cpu());
  if (count) {
    s = k::concat({s, Tensor::full({1}, static_cast<double>(x.numel() / x.size(1)), DType::F64)}, 0);
  }
  s = s.contiguous();
  comm.all_reduce_sum(s);
  return {s.data<double>(), s.data<double>() + s.numel()};
}

// C host values as [1, C, 1, ...] in x's dtype on x's device, to broadcast against x.
Tensor per_channel(const std::vector<double>& v, const Tensor& x) {
  Shape s(static_cast<size_t>(x.dim()), 1);
  s[1] = x.size(1);
  return Tensor::from_vector(v, s, x.dtype(), x.device());
}

std::vector<double> host_values(const Tensor& t) {
  const Tensor h = t.to(Device::cpu()).to(DType::F64).contiguous();
  return {h.data<double>(), h.data<double>() + h.numel()};
}

}  // namespace

Tensor sync_batch_norm(const Tensor& x, const Tensor& gamma, const Tensor& beta, Tensor& running_mean,
                       Tensor& running_var, const k::BatchNormParams& p, dist::Communicator& comm) {
  check(x.dim() >= 2, "sync_batch_norm: x ", x.str(), " has no channel dimension");
  const int64_t c = x.size(1);
  // The channel sums and the values per channel in the whole batch.
  std::vector<double> mean = channel_sums(x, comm, /*count=*/true);
  const double m = mean.back();
  mean.pop_back();
  check(m > 1, "sync_batch_norm: ", m, " values per channel in the whole batch: the variance needs two");
  for (double& v : mean) v /= m;
  const Tensor mean_x = per_channel(mean, x);
  const Tensor centred = k::sub(x, mean_x);
  std::vector<double> var = channel_sums(k::mul(centred, centred), comm);
  for (double& v : var) v /= m;  // biased: what the batch is normalised with
  // The eval-mode kernel with the batch's statistics is the training forward's normalisation.
  const Tensor mean_c = mean_x.reshape({c}), var_c = per_channel(var, x).reshape({c});
  Tensor y = k::batch_norm_eval_forward(x, gamma, beta, mean_c, var_c, p);
  // The running variance estimates the population's: the unbiased batch variance.
  auto update = [&](Tensor& running, const std::vector<double>& batch, double factor) {
    if (!running.defined()) return;
    std::vector<double> r = host_values(running);
    for (int64_t i = 0; i < c; ++i) r[i] = (1.0 - p.momentum) * r[i] + p.momentum * factor * batch[i];
    running.copy_(per_channel(r, x).reshape({c}));
  };
  update(running_mean, mean, 1.0);
  update(running_var, var, m / (m - 1.0));
  if (needs_grad({&x, &gamma, &beta})) {
    record("sync_batch_norm", {x, gamma, beta}, {&y},
           [x = x.detach(), y = p.relu ? y.detach() : Tensor(), gamma = gamma.detach(), mean_x, mean_c, var_c, var,
            c, m, p, &comm](const Grads& g) -> Grads {
             // With mean and variance held constant: dx = gamma * invstd * g, and this rank's sums
             // dbeta = sum g, dgamma = sum g * xhat (g: dy masked by the fused ReLU).
             k::BatchNormGrads r = k::batch_norm_eval_backward(g[0], x, y, gamma, mean_c, var_c, p);
             // The paths through the batch statistics need the whole batch's sums.
             Tensor sums = k::concat({r.dbeta.to(DType::F64), r.dgamma.to(DType::F64)}, 0).contiguous();
             comm.all_reduce_sum(sums);
             const std::vector<double> s = host_values(sums), gm = host_values(gamma);
             // dx -= gamma * invstd * (sum_g / M + xhat * sum_gx / M), xhat = (x - mean) * invstd
             std::vector<double> a(static_cast<size_t>(c)), b(static_cast<size_t>(c));
             for (int64_t i = 0; i < c; ++i) {
               const double invstd = 1.0 / std::sqrt(var[i] + p.eps);
               a[i] = gm[i] * invstd * s[i] / m;
               b[i] = gm[i] * invstd * invstd * s[c + i] / m;
             }
             const Tensor correction = k::add(per_channel(a, x), k::mul(per_channel(b, x), k::sub(x, mean_x)));
             return {k::sub(r.dx, correction), r.dgamma, r.dbeta};
           });
  }
  return y;
}

}  // namespace wb::ops
