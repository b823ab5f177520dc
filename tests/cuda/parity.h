// The CPU-vs-CUDA parity harness (in the spirit of ggml's test-backend-ops): one case is a set of
// CPU f32 inputs and a function running an op's forward and backward through the public kernel
// API; the harness runs it on the CPU (the reference) and on the GPU with the same inputs and
// compares every output.
#pragma once
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "tensor/tensor.h"

namespace wb::test {

using Outputs = std::vector<std::pair<std::string, Tensor>>;
using RunFn = std::function<Outputs(const std::vector<Tensor>& inputs)>;

// |cuda - cpu| <= atol + rtol * max|cpu| over each output (normwise: TF32 products and
// reordered f32 sums err relative to the output's scale, not to each element).
struct Tol {
  double atol = 1e-5;
  double rtol = 1e-5;
};

struct ParityCase {
  std::string name;
  std::vector<Tensor> inputs;  // CPU f32 (other dtypes are moved as they are)
  RunFn run;
  Tol tol;
};

// Runs the case on both devices and CHECKs every output; returns false (and prints why) if the
// process has no usable GPU, after marking the run as skipped.
bool require_gpu();
void check_parity(const ParityCase& c);

// Seeded inputs.
Tensor rnd(const Shape& shape, uint64_t seed, double scale = 1.0);
Tensor uniform(const Shape& shape, uint64_t seed, double lo, double hi);
// A permutation-based tensor of distinct values (stable argmax for max pooling).
Tensor distinct(const Shape& shape, uint64_t seed);

}  // namespace wb::test
