#include "autograd/ops_norm.h"

#include "autograd/node.h"

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

}  // namespace wb::ops
