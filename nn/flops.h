// Parameter and multiply-add counts per module, in the papers' convention (DESIGN.md, spec
// "FLOPs convention"): only Conv2d, ConvTranspose2d and Linear count, each as
// weight numel x output pixels x batch (a transposed conv on its output pixels, a linear layer
// on one "pixel" per row); BN, activations, pooling, resizing and adds are free. GFLOPs are
// multiply-adds / 1024^3.
//
// count_flops() runs one forward pass on a zero input of the given shape, in evaluation mode and
// without recording a graph, while the counting layers report their multiply-adds; the mode of
// the model is restored afterwards. A module that computes a convolution without one of those
// layers (e.g. an elastic conv slicing a shared weight) reports its own cost with report_macs().
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "nn/module.h"

namespace wb::nn {

struct ModuleCost {
  std::string name;    // dotted path; "" for the model itself
  std::string type;    // Module::type_name()
  int depth = 0;       // 0 for the model, 1 for its children, ...
  int64_t params = 0;  // elements of the module's parameters, its descendants' included
  int64_t macs = 0;    // multiply-adds of the module and its descendants in the counted forward
};

struct FlopsReport {
  std::vector<ModuleCost> modules;  // every module, depth first in registration order (Module::named_modules)
  int64_t params() const { return modules.empty() ? 0 : modules.front().params; }
  int64_t macs() const { return modules.empty() ? 0 : modules.front().macs; }
  double gflops() const { return static_cast<double>(macs()) / (1024.0 * 1024.0 * 1024.0); }
  const ModuleCost& at(const std::string& name) const;  // error naming the module when absent
  // A table of the modules down to max_depth: name, type, params (M), GFLOPs.
  std::string table(int max_depth = 1) const;
};

// Counts `model` on a zero input of `input_shape` ([N, C, H, W]; the papers use N = 1), on the
// model's current device (that of its first parameter; the CPU when it has none).
FlopsReport count_flops(Module& model, const Shape& input_shape);

// Called by a module's forward with the multiply-adds it just spent; does nothing unless a
// count_flops() is running on this thread.
void report_macs(const Module& m, int64_t macs);

}  // namespace wb::nn
