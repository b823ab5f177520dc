#include "nn/module.h"

#include <set>
#include <sstream>

namespace wb::nn {

namespace {

// Points `t` (and with it every Tensor sharing its impl: layer members, optimizer lists, autograd
// leaves) at the data of `src`, keeping its autograd slot. This is how torch's Module.to() keeps
// parameter identity (param.data = ...).
void rebind(Tensor& t, const Tensor& src) {
  if (src.impl_ptr() == t.impl_ptr()) return;
  TensorImpl& dst = t.impl();
  const TensorImpl& s = src.impl();
  dst.storage = s.storage;
  dst.shape = s.shape;
  dst.strides = s.strides;
  dst.offset = s.offset;
  dst.dtype = s.dtype;
}

std::string join(const std::string& prefix, const std::string& name) {
  if (prefix.empty()) return name;
  return name.empty() ? prefix : prefix + "." + name;
}

std::string shape_str(const Shape& s) {
  std::ostringstream os;
  os << "[";
  for (size_t i = 0; i < s.size(); ++i) os << (i ? ", " : "") << s[i];
  os << "]";
  return os.str();
}

}  // namespace

Tensor Module::forward(const Tensor& x) {
  fail(type_name(), ": forward(", x.str(), ") is not defined for this module (it has no single-input forward)");
}

void Module::reset_parameters(Generator& gen) {
  for (auto& [_, child] : children_) child->reset_parameters(gen);
}

void Module::check_new_name(const std::string& name) const {
  check(!name.empty() && name.find('.') == std::string::npos, type_name(), ": invalid name \"", name,
        "\" (must be non-empty and contain no '.')");
  auto taken = [&](const auto& list) {
    for (const auto& [n, _] : list)
      if (n == name) return true;
    return false;
  };
  check(!taken(params_) && !taken(buffers_) && !taken(children_), type_name(), ": name \"", name,
        "\" is already registered");
}

Tensor Module::register_parameter(const std::string& name, Tensor t) {
  check_new_name(name);
  check(t.defined(), type_name(), ": register_parameter(\"", name, "\") with an undefined tensor");
  check(is_floating(t.dtype()), type_name(), ": parameter \"", name, "\" ", t.str(), " is not floating point");
  check(t.is_leaf(), type_name(), ": parameter \"", name, "\" ", t.str(), " is the output of an op, not a leaf");
  t.set_requires_grad(true);
  params_.emplace_back(name, t);
  return t;
}

Tensor Module::register_buffer(const std::string& name, Tensor t, bool host) {
  check_new_name(name);
  check(t.defined(), type_name(), ": register_buffer(\"", name, "\") with an undefined tensor");
  check(!host || !t.is_cuda(), type_name(), ": host buffer \"", name, "\" must be a CPU tensor");
  buffers_.emplace_back(name, t);
  buffer_on_host_.push_back(host);
  return t;
}

Module::~Module() {
  // A child that outlives this module (held elsewhere) must not keep a dangling parent.
  for (auto& [name, child] : children_)
    if (child->parent_ == this) child->parent_ = nullptr;
}

std::string Module::path() const {
  if (parent_ == nullptr) return "";
  const std::string up = parent_->path();
  return up.empty() ? name_in_parent_ : up + "." + name_in_parent_;
}

std::vector<std::pair<std::string, Module*>> Module::named_modules() {
  std::vector<std::pair<std::string, Module*>> out{{"", this}};
  for (const auto& [name, child] : children_)
    for (const auto& [sub, m] : child->named_modules()) out.emplace_back(join(name, sub), m);
  return out;
}

Module& Module::at(const std::string& path) {
  if (path.empty()) return *this;
  const size_t dot = path.find('.');
  const std::string head = path.substr(0, dot);
  for (const auto& [name, child] : children_)
    if (name == head) return dot == std::string::npos ? *child : child->at(path.substr(dot + 1));
  fail(type_name(), ": no submodule \"", head, "\" (looking up \"", path, "\")");
}

void Module::collect(const std::string& prefix, bool params, bool buffers, NamedTensors& out) const {
  if (params)
    for (const auto& [name, t] : params_) out.emplace_back(join(prefix, name), t);
  if (buffers)
    for (const auto& [name, t] : buffers_) out.emplace_back(join(prefix, name), t);
  for (const auto& [name, child] : children_) child->collect(join(prefix, name), params, buffers, out);
}

NamedTensors Module::named_parameters() const {
  NamedTensors out;
  collect("", true, false, out);
  return out;
}

NamedTensors Module::named_buffers() const {
  NamedTensors out;
  collect("", false, true, out);
  return out;
}

std::vector<Tensor> Module::parameters() const {
  std::vector<Tensor> out;
  for (auto& [_, t] : named_parameters()) out.push_back(t);
  return out;
}

int64_t Module::num_parameters() const {
  int64_t n = 0;
  for (const auto& [_, t] : named_parameters()) n += t.numel();
  return n;
}

Module& Module::train(bool on) {
  training_ = on;
  for (auto& [_, child] : children_) child->train(on);
  return *this;
}

template <class F>
void Module::for_each_tensor(F&& f) {
  for (auto& [_, t] : params_) f(t, true, false);
  for (size_t i = 0; i < buffers_.size(); ++i) f(buffers_[i].second, false, static_cast<bool>(buffer_on_host_[i]));
  for (auto& [_, child] : children_) child->for_each_tensor(f);
}

Module& Module::to(Device device) {
  for_each_tensor([&](Tensor& t, bool is_param, bool host) {
    if (host) return;
    const Tensor g = is_param ? t.grad() : Tensor();
    rebind(t, t.to(device));
    if (g.defined()) t.set_grad(g.to(device));
  });
  return *this;
}

Module& Module::to(DType dtype) {
  check(dtype == DType::F32 || dtype == DType::F64, type_name(), ": to(", dtype_name(dtype),
        "): modules hold f32 or f64 parameters");
  for_each_tensor([&](Tensor& t, bool is_param, bool) {
    if (!is_floating(t.dtype())) return;
    const Tensor g = is_param ? t.grad() : Tensor();
    rebind(t, t.to(dtype));
    if (g.defined()) t.set_grad(g.to(dtype));
  });
  return *this;
}

NamedTensors Module::state_dict() const {
  NamedTensors out;
  collect("", true, true, out);
  for (auto& [_, t] : out) t = t.detach();
  return out;
}

LoadResult Module::load_state_dict(const TensorMap& state, bool strict) {
  const NamedTensors own = [&] {
    NamedTensors o;
    collect("", true, true, o);
    return o;
  }();
  LoadResult r;
  std::set<std::string> known;
  for (const auto& [name, t] : own) {
    known.insert(name);
    const auto it = state.find(name);
    if (it == state.end()) {
      r.missing.push_back(name);
    } else if (const std::string why = state_mismatch(it->second, t); !why.empty()) {
      r.mismatched.push_back(name + ": " + why);
    }
  }
  for (const auto& [name, _] : state)
    if (!known.count(name)) r.unexpected.push_back(name);

  if (strict && !r.clean()) {
    std::ostringstream os;
    os << type_name() << ": load_state_dict (strict) failed, nothing was loaded:";
    auto list = [&](const char* what, const std::vector<std::string>& names) {
      if (names.empty()) return;
      os << "\n  " << what << " (" << names.size() << "):";
      for (const auto& n : names) os << "\n    " << n;
    };
    list("missing from the given state", r.missing);
    list("unexpected in the given state", r.unexpected);
    list("shape or dtype mismatch", r.mismatched);
    fail(os.str());
  }

  for (const auto& [name, t] : own) {
    const auto it = state.find(name);
    if (it == state.end() || !state_mismatch(it->second, t).empty()) continue;
    Tensor dst = t;  // an alias: the registered tensor's storage is written in place
    dst.copy_(it->second);
  }
  return r;
}

std::string state_mismatch(const Tensor& given, const Tensor& own) {
  const bool same_kind = given.dtype() == own.dtype() || (is_floating(given.dtype()) && is_floating(own.dtype()));
  if (given.shape() == own.shape() && same_kind) return "";
  return "given " + shape_str(given.shape()) + " " + dtype_name(given.dtype()) + " vs module " +
         shape_str(own.shape()) + " " + dtype_name(own.dtype());
}

TensorMap to_tensor_map(const NamedTensors& named) {
  TensorMap m;
  for (const auto& [name, t] : named) {
    check(!m.count(name), "to_tensor_map: duplicate name \"", name, "\"");
    m.emplace(name, t);
  }
  return m;
}

}  // namespace wb::nn
