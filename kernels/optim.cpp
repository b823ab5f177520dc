#include "kernels/optim.h"

#include "kernels/common.h"

namespace wb::kernels {

namespace {

// One optimizer state list (momentum buffers, Adam moments) as the checks see it.
struct StateList {
  const char* name;
  const std::vector<Tensor>* tensors;
};

// Validates one fused step before any tensor is touched, so a bad entry leaves every parameter
// unchanged. All tensors live on the first parameter's device and share its float dtype;
// parameters and state are updated in place and so must be contiguous; each defined grad and
// its state have the parameter's shape. Returns the grads made contiguous.
std::vector<Tensor> check_step(const char* op, const std::vector<Tensor>& params, const std::vector<Tensor>& grads,
                               std::initializer_list<StateList> states) {
  check(grads.size() == params.size(), op, ": ", params.size(), " params but ", grads.size(), " grads");
  for (const StateList& s : states) {
    check(s.tensors->size() == params.size(), op, ": ", params.size(), " params but ", s.tensors->size(), " ", s.name);
  }
  std::vector<Tensor> contiguous_grads(grads.size());
  for (size_t i = 0; i < params.size(); ++i) {
    const Tensor& p = params[i];
    check(p.defined(), op, ": param ", i, " is undefined");
    check_same_float_dtype(op, {&params.front(), &p});
    check_same_device(op, {&params.front(), &p});
    check(p.is_contiguous(), op, ": param ", i, " ", p.str(), " must be contiguous (it is updated in place)");
    const Tensor& g = grads[i];
    if (!g.defined()) continue;
    check(g.shape() == p.shape(), op, ": grad ", i, " ", g.str(), " does not match param ", p.str());
    check_same_float_dtype(op, {&p, &g});
    check_same_device(op, {&p, &g});
    for (const StateList& s : states) {
      const Tensor& t = (*s.tensors)[i];
      check(t.defined(), op, ": ", s.name, " ", i, " is undefined for param ", p.str());
      check(t.shape() == p.shape(), op, ": ", s.name, " ", i, " ", t.str(), " does not match param ", p.str());
      check_same_float_dtype(op, {&p, &t});
      check_same_device(op, {&p, &t});
      check(t.is_contiguous(), op, ": ", s.name, " ", i, " ", t.str(), " must be contiguous");
    }
    contiguous_grads[i] = g.contiguous();
  }
  return contiguous_grads;
}

// A fused step over every parameter: `tensors_touched` parameter-sized arrays read or written per
// element (SGD with momentum: p, g, buf read, p, buf written), `flops` per element.
profile::Cost step_cost(const std::vector<Tensor>& params, double tensors_touched, double flops) {
  double bytes = 0;
  for (const Tensor& t : params) bytes += profile::bytes_of(t);
  const double elements = params.empty() ? 0 : bytes / static_cast<double>(dtype_size(params.front().dtype()));
  return profile::Cost{flops * elements, tensors_touched * bytes};
}

}  // namespace

void sgd_step(std::vector<Tensor>& params, const std::vector<Tensor>& grads, std::vector<Tensor>& momentum_bufs,
              const SgdParams& p) {
  const bool uses_momentum = p.momentum != 0.0;
  check(uses_momentum || !p.nesterov, "sgd_step: Nesterov momentum needs momentum > 0");
  const std::vector<Tensor> g = uses_momentum
                                    ? check_step("sgd_step", params, grads, {{"momentum_bufs", &momentum_bufs}})
                                    : check_step("sgd_step", params, grads, {});
  if (params.empty()) return;
  const profile::OpScope prof("sgd_step", {&params.front()},
                              [&] { return step_cost(params, uses_momentum ? 5 : 3, uses_momentum ? 4 : 2); });
#if WBPOSE_WITH_CUDA
  if (params.front().is_cuda()) {
    check_cuda_f32("sgd_step", params.front());
    cuda::sgd_step(params, g, momentum_bufs, p);
    return;
  }
#endif
  cpu::sgd_step(params, g, momentum_bufs, p);
}

void adam_step(std::vector<Tensor>& params, const std::vector<Tensor>& grads, std::vector<Tensor>& exp_avg,
               std::vector<Tensor>& exp_avg_sq, const AdamParams& p) {
  // Bias correction divides by 1 - beta^t, which is zero at t = 0.
  check(p.step >= 1, "adam_step: step ", p.step, " must be >= 1");
  const std::vector<Tensor> g =
      check_step("adam_step", params, grads, {{"exp_avg", &exp_avg}, {"exp_avg_sq", &exp_avg_sq}});
  if (params.empty()) return;
  const profile::OpScope prof("adam_step", {&params.front()}, [&] { return step_cost(params, 7, 12); });
#if WBPOSE_WITH_CUDA
  if (params.front().is_cuda()) {
    check_cuda_f32("adam_step", params.front());
    cuda::adam_step(params, g, exp_avg, exp_avg_sq, p);
    return;
  }
#endif
  cpu::adam_step(params, g, exp_avg, exp_avg_sq, p);
}

}  // namespace wb::kernels
