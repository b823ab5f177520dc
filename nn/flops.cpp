#include "nn/flops.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <sstream>

#include "autograd/node.h"

namespace wb::nn {

namespace {

// The multiply-adds reported per module during the running count_flops() on this thread.
thread_local std::map<const Module*, int64_t>* active_count = nullptr;

}  // namespace

void report_macs(const Module& m, int64_t macs) {
  if (active_count) (*active_count)[&m] += macs;
}

FlopsReport count_flops(Module& model, const Shape& input_shape) {
  check(active_count == nullptr, "count_flops: already counting on this thread (nested count_flops call)");
  const auto params = model.named_parameters();
  const Device device = params.empty() ? Device::cpu() : params.front().second.device();
  const DType dtype = params.empty() ? DType::F32 : params.front().second.dtype();

  std::map<const Module*, int64_t> own;
  const bool was_training = model.is_training();
  {
    // Evaluation mode so BN statistics stay untouched; restored however forward ends.
    struct Restore {
      Module& m;
      bool training;
      ~Restore() {
        m.train(training);
        active_count = nullptr;
      }
    } restore{model, was_training};
    model.eval();
    const autograd::NoGradGuard no_grad;
    active_count = &own;
    model(Tensor::zeros(input_shape, dtype, device));
  }

  // Totals per module: its own report plus those of its descendants, whose dotted names extend
  // "<name>.".
  FlopsReport r;
  const auto modules = model.named_modules();
  for (const auto& [name, m] : modules) {
    ModuleCost c;
    c.name = name;
    c.type = m->type_name();
    c.depth = name.empty() ? 0 : 1 + static_cast<int>(std::count(name.begin(), name.end(), '.'));
    c.params = m->num_parameters();
    r.modules.push_back(c);
  }
  for (const auto& [name, m] : modules) {
    const auto it = own.find(m);
    if (it == own.end()) continue;
    for (ModuleCost& c : r.modules)
      if (c.name.empty() || name == c.name || name.rfind(c.name + ".", 0) == 0) c.macs += it->second;
  }
  return r;
}

const ModuleCost& FlopsReport::at(const std::string& name) const {
  for (const ModuleCost& c : modules)
    if (c.name == name) return c;
  fail("FlopsReport: no module \"", name, "\"");
}

std::string FlopsReport::table(int max_depth) const {
  std::ostringstream os;
  char line[256];
  std::snprintf(line, sizeof line, "%-48s %-20s %12s %10s\n", "module", "type", "params (M)", "GFLOPs");
  os << line;
  for (const ModuleCost& c : modules) {
    if (c.depth > max_depth) continue;
    const std::string name = c.name.empty() ? "(total)" : std::string(2 * (c.depth - 1), ' ') + c.name;
    std::snprintf(line, sizeof line, "%-48s %-20s %12.4f %10.4f\n", name.c_str(), c.type.c_str(),
                  static_cast<double>(c.params) / 1e6, static_cast<double>(c.macs) / (1024.0 * 1024.0 * 1024.0));
    os << line;
  }
  return os.str();
}

}  // namespace wb::nn
