// Timing for wbpose-bench: the median over repeated runs after a warm-up, measured with CUDA
// events on the engine stream for CUDA work and a steady clock for CPU work.
#pragma once
#include <functional>

#include "tensor/device.h"

namespace wb::bench {

struct TimingOptions {
  int warmup = 3;
  int iters = 10;
  double max_seconds = 2.0;  // stop repeating a slow op early (at least 3 timed runs)
};

// Milliseconds per call of fn (median).
double time_ms(const std::function<void()>& fn, Device device, const TimingOptions& opt);

// Name of the GPU, or for the CPU its model (/proc/cpuinfo) and the kernels' path
// (kernels/cpu/isa.h), e.g. "cpu: AMD EPYC, kernels avx2".
std::string device_name(Device device);

}  // namespace wb::bench
