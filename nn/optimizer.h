// Optimizers over a list of parameters (leaf tensors that require grad), with torch.optim's
// semantics: SGD (momentum, dampening, Nesterov, weight decay), Adam and AdamW. The update
// formulas are in kernels/optim.h.
//
// State is created lazily on each parameter's device the first time that parameter has a
// gradient, and a parameter whose grad is undefined is skipped by step() (its state and its
// per-parameter step count stay as they are), as in PyTorch.
//
// Checkpoints: state_dict() holds
//   "step"                    i64 0-d, the number of step() calls,
//   "state.<i>.step"          i64 0-d, how many updates parameter i has received (only when > 0),
//   "state.<i>.<slot>"        one tensor per state slot, shaped like parameter i
//                             (SGD with momentum: momentum_buffer; Adam/AdamW: exp_avg, exp_avg_sq),
// with i the parameter's index in the list given to the constructor, as in PyTorch's state_dict.
#pragma once
#include <string>
#include <vector>

#include "tensor/safetensors.h"
#include "tensor/tensor.h"

namespace wb::nn {

class Optimizer {
 public:
  virtual ~Optimizer() = default;
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;

  // Drops every parameter's grad (PyTorch's set_to_none), so the next backward writes fresh ones
  // and parameters that take no part in it are skipped by step().
  void zero_grad();
  // One update of every parameter that has a grad, at the current learning rate.
  void step();

  double lr() const { return lr_; }
  void set_lr(double lr);  // a schedule sets it before each step
  int64_t step_count() const { return step_count_; }
  const std::vector<Tensor>& params() const { return params_; }
  const std::string& name() const { return name_; }

  // The tensors are the live state, not copies: save or clone them before the next step().
  TensorMap state_dict() const;
  // Replaces the whole state. The map must come from an optimizer of the same kind and
  // configuration over parameters of the same shapes: an unknown or missing entry, or one whose
  // shape does not match its parameter, is an error naming the entry, and leaves the current
  // state untouched. Tensors are copied to each parameter's device and dtype.
  void load_state_dict(const TensorMap& state);

 protected:
  Optimizer(std::string name, std::vector<Tensor> params, double lr);

  // Names of the per-parameter state tensors this optimizer keeps, given its configuration.
  virtual std::vector<std::string> slot_names() const = 0;
  // Updates the parameters `active` (all have a defined grad). Their state slots exist already,
  // zero-filled where new; param_steps_ counts the updates before this one.
  virtual void update(const std::vector<size_t>& active) = 0;

  // The tensors of one slot for the given parameters, and their grads, in the kernels' layout.
  std::vector<Tensor> gather_params(const std::vector<size_t>& idx) const;
  std::vector<Tensor> gather_grads(const std::vector<size_t>& idx) const;
  std::vector<Tensor> gather_slot(const std::vector<size_t>& idx, const std::string& slot) const;

  std::vector<Tensor> params_;
  std::vector<TensorMap> state_;      // per parameter: slot name -> tensor; empty until its first update
  std::vector<int64_t> param_steps_;  // per parameter: updates received

 private:
  std::string name_;
  double lr_;
  int64_t step_count_ = 0;
};

struct SgdOptions {
  double lr = 0.01;
  double momentum = 0.0;
  double dampening = 0.0;
  double weight_decay = 0.0;
  bool nesterov = false;  // needs momentum > 0 and dampening = 0, as in PyTorch
};

class SGD final : public Optimizer {
 public:
  SGD(std::vector<Tensor> params, const SgdOptions& options);
  const SgdOptions& options() const { return options_; }

 protected:
  std::vector<std::string> slot_names() const override;
  void update(const std::vector<size_t>& active) override;

 private:
  SgdOptions options_;
};

struct AdamOptions {
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  // Adam adds weight_decay * p to the gradient; AdamW shrinks p by lr * weight_decay instead.
  // 0 for both here (PyTorch's AdamW defaults to 1e-2; our configs always state it).
  double weight_decay = 0.0;
};

class Adam : public Optimizer {
 public:
  Adam(std::vector<Tensor> params, const AdamOptions& options);
  const AdamOptions& options() const { return options_; }

 protected:
  Adam(std::string name, std::vector<Tensor> params, const AdamOptions& options, bool decoupled);
  std::vector<std::string> slot_names() const override;
  void update(const std::vector<size_t>& active) override;

 private:
  AdamOptions options_;
  bool decoupled_;
};

class AdamW final : public Adam {
 public:
  AdamW(std::vector<Tensor> params, const AdamOptions& options);
};

}  // namespace wb::nn
