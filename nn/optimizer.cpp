#include "nn/optimizer.h"

#include <charconv>
#include <cmath>
#include <map>
#include <set>

#include "kernels/optim.h"
#include "tensor/profile.h"

namespace wb::nn {

namespace {

void check_range(const std::string& opt, const char* field, double v, double lo, double hi, bool hi_open) {
  const bool ok = std::isfinite(v) && v >= lo && (hi_open ? v < hi : v <= hi);
  check(ok, opt, ": ", field, " = ", v, " must be in [", lo, ", ", hi, hi_open ? ")" : "]");
}

void check_non_negative(const std::string& opt, const char* field, double v) {
  check(std::isfinite(v) && v >= 0.0, opt, ": ", field, " = ", v, " must be finite and >= 0");
}

Tensor count_tensor(int64_t n) { return Tensor::full({}, static_cast<double>(n), DType::I64); }

// A step count read back from a checkpoint: one element holding a whole number >= lo.
int64_t read_count(const std::string& opt, const std::string& key, const Tensor& t, int64_t lo) {
  check(t.defined() && t.numel() == 1, opt, ": state entry '", key, "' must hold one number, got ",
        t.defined() ? t.str() : std::string("an undefined tensor"));
  const double v = t.item();
  check(std::isfinite(v) && v == std::floor(v) && v >= static_cast<double>(lo), opt, ": state entry '", key, "' = ", v,
        " is not a whole number >= ", lo);
  return static_cast<int64_t>(v);
}

}  // namespace

Optimizer::Optimizer(std::string name, std::vector<Tensor> params, double lr)
    : params_(std::move(params)), name_(std::move(name)) {
  check(!params_.empty(), name_, ": the parameter list is empty");
  for (size_t i = 0; i < params_.size(); ++i) {
    const Tensor& p = params_[i];
    check(p.defined(), name_, ": parameter ", i, " is undefined");
    check(p.requires_grad() && p.is_leaf(), name_, ": parameter ", i, " ", p.str(),
          " must be a leaf tensor that requires grad");
    check(p.is_contiguous(), name_, ": parameter ", i, " ", p.str(), " must be contiguous (it is updated in place)");
    // Parameters sharing memory would be updated twice per step.
    for (size_t j = 0; j < i; ++j) {
      check(!p.same_storage(params_[j]), name_, ": parameters ", j, " ", params_[j].str(), " and ", i, " ", p.str(),
            " share storage");
    }
  }
  state_.resize(params_.size());
  param_steps_.assign(params_.size(), 0);
  set_lr(lr);
}

void Optimizer::set_lr(double lr) {
  check_non_negative(name_, "lr", lr);
  lr_ = lr;
}

void Optimizer::zero_grad() {
  for (Tensor& p : params_) p.set_grad(Tensor());
}

void Optimizer::step() {
  const profile::PhaseScope phase(profile::Phase::Optimizer);
  std::vector<size_t> active;
  for (size_t i = 0; i < params_.size(); ++i) {
    const Tensor g = params_[i].grad();
    if (!g.defined()) continue;
    const Tensor& p = params_[i];
    // Checked here, before any update, because one step may take several kernel calls and a
    // failure in a later one must not leave the earlier parameters updated.
    check(g.dtype() == p.dtype() && g.device() == p.device(), name_, ": grad ", g.str(), " of parameter ", i, " ",
          p.str(), " differs in dtype or device");
    active.push_back(i);
  }
  for (size_t i : active) {
    if (!state_[i].empty()) continue;
    const Tensor& p = params_[i];
    for (const std::string& slot : slot_names()) state_[i][slot] = Tensor::zeros(p.shape(), p.dtype(), p.device());
  }
  update(active);
  for (size_t i : active) ++param_steps_[i];
  ++step_count_;
}

std::vector<Tensor> Optimizer::gather_params(const std::vector<size_t>& idx) const {
  std::vector<Tensor> out;
  out.reserve(idx.size());
  for (size_t i : idx) out.push_back(params_[i]);
  return out;
}

std::vector<Tensor> Optimizer::gather_grads(const std::vector<size_t>& idx) const {
  std::vector<Tensor> out;
  out.reserve(idx.size());
  for (size_t i : idx) out.push_back(params_[i].grad());
  return out;
}

std::vector<Tensor> Optimizer::gather_slot(const std::vector<size_t>& idx, const std::string& slot) const {
  std::vector<Tensor> out;
  out.reserve(idx.size());
  for (size_t i : idx) out.push_back(state_[i].at(slot));
  return out;
}

TensorMap Optimizer::state_dict() const {
  TensorMap out;
  out["step"] = count_tensor(step_count_);
  for (size_t i = 0; i < params_.size(); ++i) {
    if (param_steps_[i] == 0) continue;
    const std::string prefix = "state." + std::to_string(i) + ".";
    out[prefix + "step"] = count_tensor(param_steps_[i]);
    for (const auto& [slot, t] : state_[i]) out[prefix + slot] = t;
  }
  return out;
}

void Optimizer::load_state_dict(const TensorMap& state) {
  const std::vector<std::string> slots = slot_names();
  const std::set<std::string> known_slots(slots.begin(), slots.end());
  std::vector<TensorMap> new_state(params_.size());
  std::vector<int64_t> new_steps(params_.size(), 0);
  bool has_step = false;
  int64_t new_step_count = 0;

  for (const auto& [key, t] : state) {
    if (key == "step") {
      new_step_count = read_count(name_, key, t, 0);
      has_step = true;
      continue;
    }
    // "state.<i>.<slot>", with i written as std::to_string writes it.
    const std::string prefix = "state.";
    const size_t dot = key.find('.', prefix.size());
    size_t i = 0;
    bool parsed = key.starts_with(prefix) && dot != std::string::npos;
    if (parsed) {
      const char* first = key.data() + prefix.size();
      const char* last = key.data() + dot;
      parsed = std::from_chars(first, last, i).ptr == last && std::to_string(i) == std::string(first, last);
    }
    check(parsed, name_, ": unknown state entry '", key, "'");
    check(i < params_.size(), name_, ": state entry '", key, "' is for parameter ", i, " but there are ",
          params_.size(), " parameters");
    const std::string slot = key.substr(dot + 1);
    if (slot == "step") {
      new_steps[i] = read_count(name_, key, t, 1);
      continue;
    }
    check(known_slots.count(slot) == 1, name_, ": unknown state entry '", key, "'");
    const Tensor& p = params_[i];
    check(t.defined() && t.shape() == p.shape() && is_floating(t.dtype()), name_, ": state entry '", key, "' ",
          t.defined() ? t.str() : std::string("undefined"), " does not match parameter ", i, " ", p.str());
    Tensor copy = Tensor::empty(p.shape(), p.dtype(), p.device());
    copy.copy_(t);
    new_state[i][slot] = copy;
  }

  check(has_step, name_, ": state entry 'step' is missing");
  for (size_t i = 0; i < params_.size(); ++i) {
    const std::string prefix = "state." + std::to_string(i) + ".";
    if (new_steps[i] == 0) {
      check(new_state[i].empty(), name_, ": state entry '", prefix, "step' is missing (parameter ", i,
            " has state tensors)");
      continue;
    }
    for (const std::string& slot : slots) {
      check(new_state[i].count(slot) == 1, name_, ": state entry '", prefix, slot, "' is missing (parameter ", i,
            " has had ", new_steps[i], " updates)");
    }
  }
  state_ = std::move(new_state);
  param_steps_ = std::move(new_steps);
  step_count_ = new_step_count;
}

// ---- SGD ----

SGD::SGD(std::vector<Tensor> params, const SgdOptions& options)
    : Optimizer("SGD", std::move(params), options.lr), options_(options) {
  check_non_negative(name(), "momentum", options.momentum);
  check_range(name(), "dampening", options.dampening, 0.0, 1.0, false);
  check_non_negative(name(), "weight_decay", options.weight_decay);
  check(!options.nesterov || (options.momentum > 0.0 && options.dampening == 0.0), name(),
        ": Nesterov momentum needs momentum > 0 and dampening = 0, got momentum ", options.momentum, ", dampening ",
        options.dampening);
}

std::vector<std::string> SGD::slot_names() const {
  if (options_.momentum == 0.0) return {};
  return {"momentum_buffer"};
}

void SGD::update(const std::vector<size_t>& active) {
  kernels::SgdParams kp;
  kp.lr = lr();
  kp.momentum = options_.momentum;
  kp.dampening = options_.dampening;
  kp.weight_decay = options_.weight_decay;
  kp.nesterov = options_.nesterov;
  if (options_.momentum == 0.0) {
    std::vector<Tensor> ps = gather_params(active), none;
    kernels::sgd_step(ps, gather_grads(active), none, kp);
    return;
  }
  // A parameter's first update starts its momentum buffer from the gradient, so first updates
  // and later ones go to the kernel as separate lists.
  std::vector<size_t> fresh, running;
  for (size_t i : active) (param_steps_[i] == 0 ? fresh : running).push_back(i);
  for (const auto* group : {&fresh, &running}) {
    if (group->empty()) continue;
    kp.first_step = group == &fresh;
    std::vector<Tensor> ps = gather_params(*group), bufs = gather_slot(*group, "momentum_buffer");
    kernels::sgd_step(ps, gather_grads(*group), bufs, kp);
  }
}

// ---- Adam / AdamW ----

Adam::Adam(std::vector<Tensor> params, const AdamOptions& options) : Adam("Adam", std::move(params), options, false) {}

Adam::Adam(std::string name, std::vector<Tensor> params, const AdamOptions& options, bool decoupled)
    : Optimizer(std::move(name), std::move(params), options.lr), options_(options), decoupled_(decoupled) {
  check_range(this->name(), "beta1", options.beta1, 0.0, 1.0, true);
  check_range(this->name(), "beta2", options.beta2, 0.0, 1.0, true);
  check_non_negative(this->name(), "eps", options.eps);
  check_non_negative(this->name(), "weight_decay", options.weight_decay);
}

AdamW::AdamW(std::vector<Tensor> params, const AdamOptions& options)
    : Adam("AdamW", std::move(params), options, true) {}

std::vector<std::string> Adam::slot_names() const { return {"exp_avg", "exp_avg_sq"}; }

void Adam::update(const std::vector<size_t>& active) {
  // Bias correction uses each parameter's own update count, which differs for parameters that
  // went without a gradient on some steps; one kernel call per distinct count.
  std::map<int64_t, std::vector<size_t>> by_step;
  for (size_t i : active) by_step[param_steps_[i] + 1].push_back(i);
  kernels::AdamParams kp;
  kp.lr = lr();
  kp.beta1 = options_.beta1;
  kp.beta2 = options_.beta2;
  kp.eps = options_.eps;
  kp.weight_decay = options_.weight_decay;
  kp.decoupled = decoupled_;
  for (const auto& [t, group] : by_step) {
    kp.step = t;
    std::vector<Tensor> ps = gather_params(group), m = gather_slot(group, "exp_avg"),
                        v = gather_slot(group, "exp_avg_sq");
    kernels::adam_step(ps, gather_grads(group), m, v, kp);
  }
}

}  // namespace wb::nn
