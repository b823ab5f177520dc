#include "tensor/storage.h"

#include <cstdlib>
#include <new>

#include "tensor/cuda_runtime.h"
#include "tensor/error.h"

namespace wb {

namespace {
constexpr size_t kCpuAlignment = 64;  // cache line, and enough for any SIMD load
}

Storage::Storage(size_t nbytes, Device device) : nbytes_(nbytes), device_(device) {
  if (nbytes == 0) return;
  if (device.is_cpu()) {
    const size_t rounded = (nbytes + kCpuAlignment - 1) / kCpuAlignment * kCpuAlignment;
    data_ = std::aligned_alloc(kCpuAlignment, rounded);
    if (!data_) fail("storage: out of host memory allocating ", nbytes, " bytes");
  } else {
    data_ = cuda::allocate(nbytes, device.index);
  }
}

Storage::~Storage() {
  if (!data_) return;
  if (device_.is_cpu()) {
    std::free(data_);
  } else {
    cuda::release(data_, device_.index);
  }
}

}  // namespace wb
