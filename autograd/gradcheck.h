// Gradient checking: analytic gradients from backward() against f64 central differences.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "tensor/tensor.h"

namespace wb::autograd {

struct GradcheckOptions {
  double eps = 1e-6;
  double atol = 1e-6;
  double rtol = 1e-4;
  uint64_t seed = 1234;  // for the random projection of a non-scalar output
};

struct GradcheckResult {
  bool ok = true;
  double max_abs_error = 0.0;
  std::string message;  // names the input and element of the worst mismatch when !ok
};

// fn maps the inputs to one output tensor. Inputs must be f64 CPU tensors; those with
// requires_grad are checked. The output is projected onto a fixed random tensor r, so the scalar
// checked is sum(fn(x) * r): every output element contributes with a distinct weight.
GradcheckResult gradcheck(const std::function<Tensor(const std::vector<Tensor>&)>& fn, std::vector<Tensor> inputs,
                          const GradcheckOptions& opt = {});

}  // namespace wb::autograd
