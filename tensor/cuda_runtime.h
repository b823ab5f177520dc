// The engine's view of the CUDA runtime, free of CUDA headers so that CPU-only code can include it.
// In a CPU-only build available() is false and every other call throws "built without CUDA".
#pragma once
#include <cstddef>
#include <cstdint>

namespace wb::cuda {

bool available();  // built with CUDA, a driver is loaded and at least one device is visible
int device_count();
void set_device(int index);

// The caching allocator: freed blocks go to a per-size-class free list and are reused, so the
// hot path never calls cudaMalloc/cudaFree. All work runs on one stream per device (stream()),
// so a freed block can be handed out again at once in stream order.
// The environment variable WBPOSE_CUDA_ALLOC=exact (read once, at the first allocation) turns the
// cache off for sanitizer runs: each allocation is its own cudaMalloc of exactly the bytes asked
// for, and each release waits for the stream and frees it. compute-sanitizer's memcheck then sees
// every tensor's true bounds: a size class hides an overrun inside its rounded-up block, and a
// reused block hides a use after release. Slow; never for timing. Unset or "caching": the cache.
// Pinned host memory is cached either way.
void* allocate(size_t bytes, int device);
void release(void* ptr, int device);
void empty_cache();
struct AllocatorStats {
  size_t in_use_bytes = 0, cached_bytes = 0, peak_in_use_bytes = 0;
  int64_t device_mallocs = 0, cache_hits = 0;
};
AllocatorStats allocator_stats(int device = 0);

// Page-locked host memory, for loader batches that are copied to the GPU: the copy engine reads it
// directly (no staging through a driver buffer). Cached by size class like device memory, since
// cudaHostAlloc is far too slow to call per batch.
void* allocate_pinned(size_t bytes);
void release_pinned(void* ptr);

void* stream(int device = 0);  // the engine context's cudaStream_t, as an opaque pointer
void synchronize(int device = 0);

// The profiler's GPU clock (tensor/profile.h): an event recorded now on stream(device), the
// milliseconds from one event to a later one (waits for the later one), and freeing an event.
void* record_event(int device);
float event_elapsed_ms(void* from, void* to);
void destroy_event(void* event);
// NVTX ranges for Nsight Systems; no-ops in a CPU-only build.
void nvtx_push(const char* name);
void nvtx_pop();

// Copies; host<->device calls synchronise the stream only when the host must see the data.
void copy_host_to_device(void* dst, const void* src, size_t bytes, int device);
void copy_device_to_host(void* dst, const void* src, size_t bytes, int device);
void copy_device_to_device(void* dst, const void* src, size_t bytes, int device);
void fill_zero(void* dst, size_t bytes, int device);

// Gathers a strided view into a contiguous buffer (elem_size bytes per element), up to 8 dims.
void strided_copy(void* dst, const void* src, size_t elem_size, int ndim, const int64_t* shape,
                  const int64_t* src_strides, int64_t numel, int device);

}  // namespace wb::cuda
