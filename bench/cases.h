// The benchmark cases: the exact op shapes of the papers' networks. Each case holds our forward
// and backward as closures over preallocated inputs, and a JSON spec from which
// bench/torch_bench.py builds the same op in PyTorch.
#pragma once
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tensor/device.h"

namespace wb::bench {

struct BenchCase {
  std::string group;  // the network and setting the shape comes from
  std::string name;   // the op and its shape
  nlohmann::json spec;
  std::function<void()> fwd, bwd;          // ours (native kernels)
  std::function<void()> fwd_cudnn, bwd_cudnn;  // ours through the cuDNN path (convolutions on CUDA only)
  double fwd_flops = 0, bwd_flops = 0;     // floating-point operations (2 per multiply-add)
  double fwd_bytes = 0, bwd_bytes = 0;     // compulsory memory traffic, for bandwidth figures
};

// Which groups to make: a case's inputs are filled when it is made, so a group left out costs
// nothing (all of cuda_kernel_cases' inputs are several GB of random numbers drawn on the CPU).
using GroupFilter = std::function<bool(const std::string& group)>;

// wbpose-bench ops: every op on the shapes of HRNet-W32 at 256x192, batch 1 and 8, and the grouped,
// depthwise and transposed convolutions of S-ViPNAS-Res50 and -MobileNetV3, batch 1 and 32, on the CPU.
std::vector<BenchCase> cpu_op_cases(const GroupFilter& make);
// wbpose-bench kernels: HRNet-W32 256x192 and 384x288 at batch 32, S-ViPNAS-Res50 and
// S-ViPNAS-MobileNetV3 convolutions, ZoomNet's RoIAlign, losses and the optimizer, on CUDA.
std::vector<BenchCase> cuda_kernel_cases(const GroupFilter& make);

}  // namespace wb::bench
