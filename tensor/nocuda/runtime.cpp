// CPU-only build: the CUDA runtime calls exist so that the engine links, and each says clearly
// that this build has no CUDA. available() is false, so executables choose the CPU.
#include "tensor/cuda_runtime.h"
#include "tensor/error.h"

namespace wb::cuda {

namespace {
[[noreturn]] void no_cuda(const char* what) { fail(what, ": this build of wbpose has no CUDA (configured with WBPOSE_CUDA=OFF or no nvcc)"); }
}  // namespace

bool available() { return false; }
int device_count() { return 0; }
void set_device(int) { no_cuda("cuda::set_device"); }
void* allocate(size_t, int) { no_cuda("cuda::allocate"); }
void release(void*, int) {}
void empty_cache() {}
AllocatorStats allocator_stats(int) { return {}; }
void* allocate_pinned(size_t) { no_cuda("cuda::allocate_pinned"); }
void release_pinned(void*) {}
void* stream(int) { no_cuda("cuda::stream"); }
void synchronize(int) { no_cuda("cuda::synchronize"); }
void* record_event(int) { no_cuda("cuda::record_event"); }
float event_elapsed_ms(void*, void*) { no_cuda("cuda::event_elapsed_ms"); }
void destroy_event(void*) {}
void nvtx_push(const char*) {}
void nvtx_pop() {}
void copy_host_to_device(void*, const void*, size_t, int) { no_cuda("cuda::copy_host_to_device"); }
void copy_device_to_host(void*, const void*, size_t, int) { no_cuda("cuda::copy_device_to_host"); }
void copy_device_to_device(void*, const void*, size_t, int) { no_cuda("cuda::copy_device_to_device"); }
void fill_zero(void*, size_t, int) { no_cuda("cuda::fill_zero"); }
void strided_copy(void*, const void*, size_t, int, const int64_t*, const int64_t*, int64_t, int) {
  no_cuda("cuda::strided_copy");
}

}  // namespace wb::cuda
