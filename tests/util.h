// Test helpers: closeness checks with readable failures, gradcheck wrapper, PyTorch references.
#pragma once
#include <doctest/doctest.h>

#include <functional>
#include <string>
#include <vector>

#include "autograd/gradcheck.h"
#include "tensor/safetensors.h"
#include "tensor/tensor.h"

namespace wb::test {

// Largest |a - b| - rtol*|b| over elements; reports the first offending element.
struct CloseResult {
  bool ok = true;
  double max_abs = 0.0;
  std::string message;
};
CloseResult compare(const Tensor& actual, const Tensor& expected, double atol, double rtol);

#define WB_CHECK_CLOSE(actual, expected, atol, rtol)                                   \
  do {                                                                                 \
    const ::wb::test::CloseResult wb_r_ = ::wb::test::compare(actual, expected, atol, rtol); \
    INFO(wb_r_.message);                                                               \
    CHECK(wb_r_.ok);                                                                   \
  } while (0)

#define WB_GRADCHECK(fn, inputs, ...)                                                \
  do {                                                                               \
    const auto wb_g_ = ::wb::autograd::gradcheck(fn, inputs, ##__VA_ARGS__);         \
    INFO(wb_g_.message);                                                             \
    CHECK(wb_g_.ok);                                                                 \
  } while (0)

// f64 CPU tensor with values from a seeded normal, requiring grad if asked.
Tensor randn64(const Shape& shape, uint64_t seed, bool requires_grad = true, double stddev = 1.0);

// Loads $WBPOSE_REF_DIR/<name>.safetensors written by tests/reference/*.py. When it is missing:
// under CI=true the test fails; elsewhere it prints a loud notice, marks the run as skipped
// (exit code 77, which ctest reports as "Skipped", never "Passed") and returns false.
bool load_reference(const std::string& name, SafetensorsFile& out);
const Tensor& ref(const SafetensorsFile& f, const std::string& name);

// The message of the wb::Error that f throws, or "" when it throws none.
std::string error_of(const std::function<void()>& f);

// Marks the whole run as skipped (exit 77) with a printed reason.
void mark_skipped(const std::string& why);
bool run_was_skipped();

// Runs body once per CPU path (kernels/cpu/isa.h) with the kernels forced onto it, naming the path
// in the failure context. A path this machine lacks is skipped by name, with a printed
// "PATH SKIPPED" line; the other paths and the file still count (scripts/test.sh ends with
// wbpose-info --cpu: the paths this machine has).
void for_each_cpu_isa(const std::function<void()>& body);

}  // namespace wb::test
