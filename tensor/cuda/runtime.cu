#include <atomic>
#include <cstdlib>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include <nvtx3/nvToolsExt.h>

#include "tensor/cuda/check.h"
#include "tensor/cuda_runtime.h"

namespace wb::cuda {

namespace {

constexpr int kMaxDevices = 16;

// Size classes: 512-byte steps up to 1 MiB, then 2 MiB steps; a block is reused only for its class.
size_t size_class(size_t bytes) {
  constexpr size_t kSmall = 512, kLarge = size_t(2) << 20, kSmallLimit = size_t(1) << 20;
  if (bytes <= kSmallLimit) return (bytes + kSmall - 1) / kSmall * kSmall;
  return (bytes + kLarge - 1) / kLarge * kLarge;
}

struct DeviceState {
  std::mutex mu;
  std::map<size_t, std::vector<void*>> free_blocks;  // class -> blocks
  std::map<void*, size_t> live;                        // block -> class
  AllocatorStats stats;
  std::atomic<cudaStream_t> stream{nullptr};  // created once, read lock-free on every launch
};

// WBPOSE_CUDA_ALLOC=exact (see cuda_runtime.h): read once, at the first allocation.
bool exact_allocation() {
  static const bool exact = [] {
    const char* v = std::getenv("WBPOSE_CUDA_ALLOC");
    const std::string mode = v ? v : "";
    check(mode.empty() || mode == "caching" || mode == "exact", "WBPOSE_CUDA_ALLOC=", mode,
          ": expected \"caching\" (the default) or \"exact\"");
    return mode == "exact";
  }();
  return exact;
}

DeviceState& state(int device) {
  static DeviceState states[kMaxDevices];
  check(device >= 0 && device < kMaxDevices, "cuda: device index ", device, " out of range");
  return states[device];
}

void free_cached(DeviceState& s, int device) {
  check_cuda(cudaSetDevice(device), "cudaSetDevice");
  for (auto& [cls, blocks] : s.free_blocks) {
    for (void* p : blocks) {
      cudaFree(p);
      s.stats.cached_bytes -= cls;
    }
  }
  s.free_blocks.clear();
}

}  // namespace

bool available() {
  static const bool ok = [] {
    int n = 0;
    return cudaGetDeviceCount(&n) == cudaSuccess && n > 0;
  }();
  return ok;
}

int device_count() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) return 0;
  return n;
}

void set_device(int index) { check_cuda(cudaSetDevice(index), "cudaSetDevice"); }

void* allocate(size_t bytes, int device) {
  check(available(), "cuda: no CUDA device is available (allocating ", bytes, " bytes)");
  DeviceState& s = state(device);
  // Exact mode: the block is exactly `bytes` long and never reused, so its bounds are the tensor's.
  const bool exact = exact_allocation();
  const size_t cls = exact ? bytes : size_class(bytes);
  std::lock_guard<std::mutex> lock(s.mu);
  void* p = nullptr;
  auto it = s.free_blocks.find(cls);
  if (!exact && it != s.free_blocks.end() && !it->second.empty()) {
    p = it->second.back();
    it->second.pop_back();
    s.stats.cached_bytes -= cls;
    ++s.stats.cache_hits;
  } else {
    check_cuda(cudaSetDevice(device), "cudaSetDevice");
    cudaError_t e = cudaMalloc(&p, cls);
    if (e == cudaErrorMemoryAllocation) {  // give the cache back and try once more
      cudaGetLastError();
      free_cached(s, device);
      e = cudaMalloc(&p, cls);
    }
    if (e != cudaSuccess) fail("cudaMalloc of ", cls, " bytes on cuda:", device, " failed: ", cudaGetErrorString(e));
    ++s.stats.device_mallocs;
  }
  s.live[p] = cls;
  s.stats.in_use_bytes += cls;
  s.stats.peak_in_use_bytes = std::max(s.stats.peak_in_use_bytes, s.stats.in_use_bytes);
  return p;
}

void release(void* ptr, int device) {
  DeviceState& s = state(device);
  std::lock_guard<std::mutex> lock(s.mu);
  auto it = s.live.find(ptr);
  if (it == s.live.end()) return;  // not ours: never happens for Storage-owned blocks
  const size_t cls = it->second;
  s.live.erase(it);
  s.stats.in_use_bytes -= cls;
  if (exact_allocation()) {
    // Work queued on the stream may still use the block: drain it first. Errors are left for the
    // next checked call to report (this runs in destructors, which must not throw).
    cudaSetDevice(device);
    if (cudaStream_t st = s.stream.load()) cudaStreamSynchronize(st);
    cudaFree(ptr);
    return;
  }
  s.stats.cached_bytes += cls;
  s.free_blocks[cls].push_back(ptr);
}

void empty_cache() {
  for (int d = 0; d < device_count() && d < kMaxDevices; ++d) {
    DeviceState& s = state(d);
    std::lock_guard<std::mutex> lock(s.mu);
    // Not synchronize(d): with no stream yet, stream(d) would take s.mu again and deadlock. A
    // device without a stream has never run work, so there is nothing to wait for.
    if (cudaStream_t st = s.stream.load()) check_cuda(cudaStreamSynchronize(st), "cudaStreamSynchronize");
    free_cached(s, d);
  }
}

AllocatorStats allocator_stats(int device) {
  DeviceState& s = state(device);
  std::lock_guard<std::mutex> lock(s.mu);
  return s.stats;
}

namespace {

struct PinnedState {
  std::mutex mu;
  std::map<size_t, std::vector<void*>> free_blocks;
  std::map<void*, size_t> live;
};

PinnedState& pinned_state() {
  static PinnedState s;
  return s;
}

}  // namespace

void* allocate_pinned(size_t bytes) {
  check(available(), "cuda: no CUDA device is available (allocating ", bytes, " bytes of pinned host memory)");
  PinnedState& s = pinned_state();
  const size_t cls = size_class(bytes);
  std::lock_guard<std::mutex> lock(s.mu);
  void* p = nullptr;
  auto it = s.free_blocks.find(cls);
  if (it != s.free_blocks.end() && !it->second.empty()) {
    p = it->second.back();
    it->second.pop_back();
  } else {
    check_cuda(cudaHostAlloc(&p, cls, cudaHostAllocDefault), "cudaHostAlloc");
  }
  s.live[p] = cls;
  return p;
}

void release_pinned(void* ptr) {
  PinnedState& s = pinned_state();
  std::lock_guard<std::mutex> lock(s.mu);
  auto it = s.live.find(ptr);
  if (it == s.live.end()) return;
  s.free_blocks[it->second].push_back(ptr);
  s.live.erase(it);
}

void* stream(int device) {
  DeviceState& s = state(device);
  cudaStream_t st = s.stream.load(std::memory_order_acquire);
  if (!st) {
    std::lock_guard<std::mutex> lock(s.mu);
    st = s.stream.load(std::memory_order_relaxed);
    if (!st) {
      check_cuda(cudaSetDevice(device), "cudaSetDevice");
      check_cuda(cudaStreamCreateWithFlags(&st, cudaStreamNonBlocking), "cudaStreamCreate");
      s.stream.store(st, std::memory_order_release);
    }
  }
  return st;
}

void synchronize(int device) { check_cuda(cudaStreamSynchronize(current_stream(device)), "cudaStreamSynchronize"); }

void* record_event(int device) {
  cudaEvent_t e = nullptr;
  check_cuda(cudaEventCreate(&e), "cudaEventCreate");
  check_cuda(cudaEventRecord(e, current_stream(device)), "cudaEventRecord");
  return e;
}

float event_elapsed_ms(void* from, void* to) {
  check_cuda(cudaEventSynchronize(static_cast<cudaEvent_t>(to)), "cudaEventSynchronize");
  float ms = 0;
  check_cuda(cudaEventElapsedTime(&ms, static_cast<cudaEvent_t>(from), static_cast<cudaEvent_t>(to)),
             "cudaEventElapsedTime");
  return ms;
}

void destroy_event(void* event) {
  if (event) cudaEventDestroy(static_cast<cudaEvent_t>(event));
}

void nvtx_push(const char* name) { nvtxRangePushA(name); }
void nvtx_pop() { nvtxRangePop(); }

void copy_host_to_device(void* dst, const void* src, size_t bytes, int device) {
  // The source is pageable host memory that the caller may free at once: the copy must finish
  // before we return, which cudaMemcpyAsync on pageable memory does not promise.
  check_cuda(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, current_stream(device)), "cudaMemcpyAsync(H2D)");
  synchronize(device);
}

void copy_device_to_host(void* dst, const void* src, size_t bytes, int device) {
  check_cuda(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, current_stream(device)), "cudaMemcpyAsync(D2H)");
  synchronize(device);
}

void copy_device_to_device(void* dst, const void* src, size_t bytes, int device) {
  check_cuda(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, current_stream(device)), "cudaMemcpyAsync(D2D)");
}

void fill_zero(void* dst, size_t bytes, int device) {
  check_cuda(cudaMemsetAsync(dst, 0, bytes, current_stream(device)), "cudaMemsetAsync");
}

namespace {

struct StridedGeometry {
  int64_t shape[8];
  int64_t strides[8];
};

template <class T>
__global__ void strided_copy_kernel(T* __restrict__ dst, const T* __restrict__ src, int ndim, StridedGeometry g,
                                    int64_t numel) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < numel; i += int64_t(gridDim.x) * blockDim.x) {
    int64_t rem = i, off = 0;
    for (int d = ndim - 1; d >= 0; --d) {
      const int64_t idx = rem % g.shape[d];
      rem /= g.shape[d];
      off += idx * g.strides[d];
    }
    dst[i] = src[off];
  }
}

template <class T>
void launch_strided(void* dst, const void* src, int ndim, const StridedGeometry& g, int64_t numel, int device) {
  const int threads = 256;
  const int64_t blocks = std::min<int64_t>((numel + threads - 1) / threads, 65535 * 8);
  strided_copy_kernel<T><<<static_cast<unsigned>(blocks), threads, 0, current_stream(device)>>>(
      static_cast<T*>(dst), static_cast<const T*>(src), ndim, g, numel);
  check_launch("strided_copy_kernel");
}

}  // namespace

void strided_copy(void* dst, const void* src, size_t elem_size, int ndim, const int64_t* shape,
                  const int64_t* src_strides, int64_t numel, int device) {
  check(ndim <= 8, "strided_copy: at most 8 dimensions, got ", ndim);
  if (numel == 0) return;
  StridedGeometry g{};
  for (int d = 0; d < ndim; ++d) {
    g.shape[d] = shape[d];
    g.strides[d] = src_strides[d];
  }
  switch (elem_size) {
    case 1: launch_strided<uint8_t>(dst, src, ndim, g, numel, device); break;
    case 2: launch_strided<uint16_t>(dst, src, ndim, g, numel, device); break;
    case 4: launch_strided<uint32_t>(dst, src, ndim, g, numel, device); break;
    case 8: launch_strided<uint64_t>(dst, src, ndim, g, numel, device); break;
    default: fail("strided_copy: unsupported element size ", elem_size);
  }
}

}  // namespace wb::cuda
