#include "bench/timer.h"

#include <algorithm>
#include <chrono>
#include <string>
#include <vector>

#include "kernels/cpu/isa.h"
#include "tensor/cuda_runtime.h"
#include "tensor/error.h"
#include "tensor/tensor.h"
#if WBPOSE_WITH_CUDA
#include "tensor/cuda/check.h"
#endif

namespace wb::bench {

double time_ms(const std::function<void()>& fn, Device device, const TimingOptions& opt) {
  check(opt.iters >= 1 && opt.warmup >= 0, "bench timing: iters ", opt.iters, " must be at least 1 and warmup ",
        opt.warmup, " not negative");
  for (int i = 0; i < opt.warmup; ++i) fn();
  std::vector<double> samples;
  const auto start = std::chrono::steady_clock::now();
#if WBPOSE_WITH_CUDA
  if (device.is_cuda()) {
    cudaEvent_t a, b;
    cuda::check_cuda(cudaEventCreate(&a), "cudaEventCreate");
    cuda::check_cuda(cudaEventCreate(&b), "cudaEventCreate");
    cudaStream_t s = cuda::current_stream(device.index);
    for (int i = 0; i < opt.iters; ++i) {
      cuda::check_cuda(cudaEventRecord(a, s), "cudaEventRecord");
      fn();
      cuda::check_cuda(cudaEventRecord(b, s), "cudaEventRecord");
      cuda::check_cuda(cudaEventSynchronize(b), "cudaEventSynchronize");
      float ms = 0;
      cuda::check_cuda(cudaEventElapsedTime(&ms, a, b), "cudaEventElapsedTime");
      samples.push_back(ms);
      const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      if (i >= 2 && elapsed > opt.max_seconds) break;
    }
    cudaEventDestroy(a);
    cudaEventDestroy(b);
  } else
#endif
  {
    for (int i = 0; i < opt.iters; ++i) {
      const auto t0 = std::chrono::steady_clock::now();
      fn();
      const auto t1 = std::chrono::steady_clock::now();
      samples.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
      const double elapsed = std::chrono::duration<double>(t1 - start).count();
      if (i >= 2 && elapsed > opt.max_seconds) break;
    }
  }
  std::sort(samples.begin(), samples.end());
  return samples[samples.size() / 2];
}

std::string device_name(Device device) {
#if WBPOSE_WITH_CUDA
  if (device.is_cuda()) {
    cudaDeviceProp prop{};
    cuda::check_cuda(cudaGetDeviceProperties(&prop, device.index), "cudaGetDeviceProperties");
    return prop.name;
  }
#endif
  return "cpu: " + kernels::cpu::cpu_model_name() + ", kernels " + kernels::cpu::cpu_isa_name(kernels::cpu::cpu_isa());
}

}  // namespace wb::bench
