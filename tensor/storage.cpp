#include "tensor/storage.h"

#include <cstdint>
#include <cstdlib>
#include <new>

#include "tensor/cuda_runtime.h"
#include "tensor/error.h"

namespace wb {

namespace {
constexpr size_t kCpuAlignment = 64;  // cache line, and enough for any SIMD load
}

Storage::Storage(size_t nbytes, Device device, bool pinned) : nbytes_(nbytes), device_(device), pinned_(pinned) {
  check(!pinned || device.is_cpu(), "storage: only host memory can be pinned, not ", device.str());
  if (nbytes == 0) return;
  if (pinned) {
    data_ = cuda::allocate_pinned(nbytes);
  } else if (device.is_cpu()) {
    check(nbytes <= SIZE_MAX - kCpuAlignment, "storage: ", nbytes, " bytes is more than memory can address");
    const size_t rounded = (nbytes + kCpuAlignment - 1) / kCpuAlignment * kCpuAlignment;
    data_ = std::aligned_alloc(kCpuAlignment, rounded);
    if (!data_) fail("storage: out of host memory allocating ", nbytes, " bytes");
  } else {
    data_ = cuda::allocate(nbytes, device.index);
  }
}

Storage::~Storage() {
  if (!data_) return;
  if (pinned_) {
    cuda::release_pinned(data_);
  } else if (device_.is_cpu()) {
    std::free(data_);
  } else {
    cuda::release(data_, device_.index);
  }
}

}  // namespace wb
