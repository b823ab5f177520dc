// The profiler on the GPU (tensor/profile.h): CUDA ops are timed by events on the engine stream,
// read when the session stops; their times nest and fall inside the session; their costs equal the
// CPU's for the same op.
#include <string>

#include "kernels/conv.h"
#include "kernels/elementwise.h"
#include "tensor/profile.h"
#include "tests/cuda/parity.h"
#include "tests/util.h"

using namespace wb;

TEST_CASE("profile (cuda): ops timed by CUDA events, on the session's clock, with the CPU's costs") {
  if (!test::require_gpu()) return;
  const Tensor x = test::rnd({4, 16, 32, 24}, 1, 1.0), w = test::rnd({32, 16, 3, 3}, 2, 0.1);
  kernels::Conv2dParams p;
  p.padding = {1, 1};
  auto run = [&](Device d) {
    const Tensor xd = x.to(d), wd = w.to(d);
    profile::Recording rec;
    kernels::relu_forward(kernels::conv2d_forward(xd, wd, Tensor(), p));
    return rec.finish();
  };
  const profile::Session cpu = run(Device::cpu());
  const profile::Session gpu = run(Device::cuda());
  REQUIRE(gpu.ops.size() >= 2);
  const profile::OpEvent* conv = nullptr;
  for (const profile::OpEvent& e : gpu.ops) {
    CHECK(e.device.is_cuda());
    CHECK(e.begin_ns >= 0);
    CHECK(e.end_ns >= e.begin_ns);
    CHECK(e.end_ns <= gpu.duration_ns + 1'000'000);  // events are read at stop(), after the work
    if (std::string(e.op) == "conv2d") conv = &e;
  }
  REQUIRE(conv != nullptr);
  CHECK(conv->end_ns > conv->begin_ns);
  for (const profile::OpEvent& e : cpu.ops) {
    if (std::string(e.op) != "conv2d") continue;
    CHECK(e.cost.flops == conv->cost.flops);
    CHECK(e.cost.bytes == conv->cost.bytes);
    CHECK(e.cost.macs == conv->cost.macs);
  }
}
