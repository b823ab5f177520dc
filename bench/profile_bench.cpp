#include "bench/profile_bench.h"

#include <chrono>
#include <cstdio>

#include "tasks/profile_report.h"
#include "tensor/cuda_runtime.h"
#include "tensor/profile.h"
#include "tensor/tensor.h"

namespace wb::bench {

namespace {

// Nanoseconds per OpScope opened and closed while no session runs: the price every op call pays.
double disabled_scope_ns() {
  const Tensor t = Tensor::zeros({1}, DType::F32, Device::cpu());
  constexpr int64_t kCalls = 20'000'000;
  int64_t evaluated = 0;
  const auto t0 = std::chrono::steady_clock::now();
  for (int64_t i = 0; i < kCalls; ++i) {
    const profile::OpScope scope("bench", {&t}, [&] {
      ++evaluated;
      return profile::Cost{};
    });
  }
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  check(evaluated == 0, "profile bench: the cost callable ran while profiling was off");
  return s / static_cast<double>(kCalls) * 1e9;
}

}  // namespace

std::string profile_step(const std::function<void()>& step, Device device, const TimingOptions& timing,
                         const std::string& dir) {
  const double off_ms = time_ms(step, device, timing);
  step();  // warm-up outside the recording
  profile::Recording recording;
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < timing.iters; ++i) {
    const profile::SpanScope span("step");
    step();
    if (device.is_cuda()) cuda::synchronize(device.index);
  }
  const double on_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count() / timing.iters;
  const tasks::ProfileReport report = tasks::ProfileReport::finish(recording, device);
  const double calls = static_cast<double>(report.session().ops.size()) / static_cast<double>(report.steps());
  const double scope_ns = disabled_scope_ns();
  char line[512];
  std::snprintf(line, sizeof line,
                "profiler overhead: off, a scope costs %.2f ns; %.0f op calls per step -> %.3f ms = %.4f%% of the "
                "%.1f ms step. Recording: %.1f ms per step (%+.1f%%).\n",
                scope_ns, calls, scope_ns * calls * 1e-6, 100 * scope_ns * calls * 1e-6 / off_ms, off_ms, on_ms,
                100 * (on_ms / off_ms - 1));
  return std::string(line) + tasks::write_profile(dir, report);
}

}  // namespace wb::bench
