// Convolution family, CUDA: the cuDNN path, kept as a reference to compare our kernels against
// (ConvAlgo::Cudnn, and one contender of ConvAlgo::Autotune). It is never chosen silently, and a
// cuDNN failure is an error naming the call, its status and the shapes.
//
// One cuDNN handle per device, bound to the engine stream, so cuDNN work is ordered with ours.
// For each distinct problem (primitive, shapes, stride/padding/dilation/groups) the descriptors
// are built and the algorithm is chosen once, by benchmarking with cudnnFind*AlgorithmEx on our
// own buffers and a workspace from the caching allocator, then cached. Math mode is cuDNN's
// default, which lets it use TF32 tensor cores like our implicit GEMM: the comparison is fair.
#include <cudnn.h>

#include <algorithm>
#include <array>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <tuple>
#include <vector>

#include "kernels/cuda/conv_internal.h"
#include "tensor/cuda/check.h"

namespace wb::kernels::cuda::detail {

namespace {

// cudnnFind tries every algorithm whose workspace fits this budget; faster ones needing more are
// rare for the shapes of pose networks, and the block stays in the caching allocator afterwards.
constexpr size_t kFindWorkspaceLimit = size_t(256) << 20;

enum class Prim { Forward, BackwardData, BackwardWeight };

const char* prim_name(Prim p) {
  switch (p) {
    case Prim::Forward: return "conv2d forward (cuDNN)";
    case Prim::BackwardData: return "conv2d backward-data (cuDNN)";
    case Prim::BackwardWeight: return "conv2d backward-weight (cuDNN)";
  }
  return "conv2d (cuDNN)";
}

void check_cudnn(cudnnStatus_t s, const char* call, const std::string& what) {
  if (s != CUDNN_STATUS_SUCCESS) fail("cuDNN error in ", call, " for ", what, ": ", cudnnGetErrorString(s));
}

int as_int(int64_t v, const std::string& what) {
  check(v >= 0 && v <= INT32_MAX, what, ": size ", v, " exceeds cuDNN's int range");
  return static_cast<int>(v);
}

// Owns the four descriptors of one problem.
struct Descriptors {
  cudnnTensorDescriptor_t x = nullptr, y = nullptr, bias = nullptr;
  cudnnFilterDescriptor_t w = nullptr;
  cudnnConvolutionDescriptor_t conv = nullptr;

  Descriptors(const Shape& xs, const Shape& ws, const Shape& ys, const Conv2dParams& p, const std::string& what) {
    try {
      set(xs, ws, ys, p, what);
    } catch (...) {
      destroy();
      throw;
    }
  }
  ~Descriptors() { destroy(); }
  Descriptors(const Descriptors&) = delete;
  Descriptors& operator=(const Descriptors&) = delete;

 private:
  void set(const Shape& xs, const Shape& ws, const Shape& ys, const Conv2dParams& p, const std::string& what) {
    check_cudnn(cudnnCreateTensorDescriptor(&x), "cudnnCreateTensorDescriptor", what);
    check_cudnn(cudnnCreateTensorDescriptor(&y), "cudnnCreateTensorDescriptor", what);
    check_cudnn(cudnnCreateTensorDescriptor(&bias), "cudnnCreateTensorDescriptor", what);
    check_cudnn(cudnnCreateFilterDescriptor(&w), "cudnnCreateFilterDescriptor", what);
    check_cudnn(cudnnCreateConvolutionDescriptor(&conv), "cudnnCreateConvolutionDescriptor", what);
    auto i = [&](int64_t v) { return as_int(v, what); };
    check_cudnn(cudnnSetTensor4dDescriptor(x, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, i(xs[0]), i(xs[1]), i(xs[2]), i(xs[3])),
                "cudnnSetTensor4dDescriptor(x)", what);
    check_cudnn(cudnnSetTensor4dDescriptor(y, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, i(ys[0]), i(ys[1]), i(ys[2]), i(ys[3])),
                "cudnnSetTensor4dDescriptor(y)", what);
    check_cudnn(cudnnSetTensor4dDescriptor(bias, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, 1, i(ys[1]), 1, 1),
                "cudnnSetTensor4dDescriptor(bias)", what);
    check_cudnn(cudnnSetFilter4dDescriptor(w, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW, i(ws[0]), i(ws[1]), i(ws[2]), i(ws[3])),
                "cudnnSetFilter4dDescriptor", what);
    check_cudnn(cudnnSetConvolution2dDescriptor(conv, i(p.padding[0]), i(p.padding[1]), i(p.stride[0]), i(p.stride[1]),
                                                i(p.dilation[0]), i(p.dilation[1]), CUDNN_CROSS_CORRELATION,
                                                CUDNN_DATA_FLOAT),
                "cudnnSetConvolution2dDescriptor", what);
    check_cudnn(cudnnSetConvolutionGroupCount(conv, i(p.groups)), "cudnnSetConvolutionGroupCount", what);
    check_cudnn(cudnnSetConvolutionMathType(conv, CUDNN_DEFAULT_MATH), "cudnnSetConvolutionMathType", what);
  }
  void destroy() {
    if (conv) cudnnDestroyConvolutionDescriptor(conv);
    if (w) cudnnDestroyFilterDescriptor(w);
    if (bias) cudnnDestroyTensorDescriptor(bias);
    if (y) cudnnDestroyTensorDescriptor(y);
    if (x) cudnnDestroyTensorDescriptor(x);
  }
};

struct Plan {
  std::unique_ptr<Descriptors> d;
  int algo = -1;           // a cudnnConvolution{Fwd,BwdData,BwdFilter}Algo_t
  size_t workspace = 0;    // bytes the chosen algorithm needs
  std::string what;        // the problem, for error messages
};

using Key = std::vector<int64_t>;

struct DeviceState {
  std::mutex mu;  // serialises use of the handle and the plan cache
  cudnnHandle_t handle = nullptr;
  std::map<Key, Plan> plans;
};

DeviceState& state(int device) {
  static std::mutex registry_mu;
  static std::map<int, std::unique_ptr<DeviceState>> states;
  std::lock_guard<std::mutex> lock(registry_mu);
  auto& s = states[device];
  if (!s) {
    auto fresh = std::make_unique<DeviceState>();
    int prev = 0;
    wb::cuda::check_cuda(cudaGetDevice(&prev), "cudaGetDevice");
    wb::cuda::check_cuda(cudaSetDevice(device), "cudaSetDevice");
    const cudnnStatus_t st = cudnnCreate(&fresh->handle);
    wb::cuda::check_cuda(cudaSetDevice(prev), "cudaSetDevice");
    check_cudnn(st, "cudnnCreate", "device cuda:" + std::to_string(device));
    check_cudnn(cudnnSetStream(fresh->handle, wb::cuda::current_stream(device)), "cudnnSetStream",
                "device cuda:" + std::to_string(device));
    s = std::move(fresh);
  }
  return *s;
}

std::string describe(Prim prim, const Shape& xs, const Shape& ws, const Shape& ys, const Conv2dParams& p) {
  return std::string(prim_name(prim)) + " x " + shape_str(xs) + ", w " + shape_str(ws) + ", y " + shape_str(ys) +
         ", stride " + std::to_string(p.stride[0]) + "x" + std::to_string(p.stride[1]) + ", padding " +
         std::to_string(p.padding[0]) + "x" + std::to_string(p.padding[1]) + ", dilation " +
         std::to_string(p.dilation[0]) + "x" + std::to_string(p.dilation[1]) + ", groups " + std::to_string(p.groups);
}

Tensor workspace(size_t bytes, Device device) {
  return bytes ? Tensor::empty({static_cast<int64_t>(bytes)}, DType::U8, device) : Tensor();
}

void* ptr(const Tensor& t) { return t.defined() ? t.raw_data() : nullptr; }

// The fastest successful result of a cudnnFind*Ex call (results come sorted by time).
template <class Perf>
void choose_best(const Perf* perf, int n, size_t budget, const std::string& what, cudnnConvolutionDescriptor_t conv,
                 Plan& plan) {
  for (int i = 0; i < n; ++i) {
    if (perf[i].status == CUDNN_STATUS_SUCCESS && perf[i].memory <= budget) {
      plan.algo = static_cast<int>(perf[i].algo);
      plan.workspace = perf[i].memory;
      // Find timed the algorithm in this math mode (e.g. TF32 tensor ops): run it in the same one.
      check_cudnn(cudnnSetConvolutionMathType(conv, perf[i].mathType), "cudnnSetConvolutionMathType", what);
      return;
    }
  }
  fail(what, ": cuDNN found no algorithm that runs within a ", budget, "-byte workspace");
}

// Largest workspace, within the Find budget, that any algorithm asks for: `size(algo, &bytes)`.
template <class SizeFn>
size_t find_budget(int algo_count, SizeFn size) {
  size_t most = 0;
  for (int a = 0; a < algo_count; ++a) {
    size_t bytes = 0;
    if (size(a, &bytes) == CUDNN_STATUS_SUCCESS && bytes <= kFindWorkspaceLimit) most = std::max(most, bytes);
  }
  return most;
}

// Looks the problem up and, the first time, builds its descriptors and benchmarks the algorithms
// on the caller's buffers (x, w, y in the forward's roles; the output one is overwritten).
// Called with the device lock held.
Plan& plan_for(DeviceState& s, Prim prim, const Tensor& x, const Tensor& w, const Tensor& y, const Conv2dParams& p) {
  Key key{static_cast<int64_t>(prim), p.stride[0], p.stride[1], p.padding[0], p.padding[1],
          p.dilation[0], p.dilation[1], p.groups};
  for (const Tensor* t : {&x, &w, &y}) key.insert(key.end(), t->shape().begin(), t->shape().end());
  auto it = s.plans.find(key);
  if (it != s.plans.end()) return it->second;

  Plan plan;
  plan.what = describe(prim, x.shape(), w.shape(), y.shape(), p);
  plan.d = std::make_unique<Descriptors>(x.shape(), w.shape(), y.shape(), p, plan.what);
  const Descriptors& d = *plan.d;
  cudnnHandle_t h = s.handle;
  const Device dev = x.device();
  int returned = 0;
  switch (prim) {
    case Prim::Forward: {
      const size_t budget = find_budget(CUDNN_CONVOLUTION_FWD_ALGO_COUNT, [&](int a, size_t* b) {
        return cudnnGetConvolutionForwardWorkspaceSize(h, d.x, d.w, d.conv, d.y, static_cast<cudnnConvolutionFwdAlgo_t>(a), b);
      });
      Tensor ws = workspace(budget, dev);
      std::array<cudnnConvolutionFwdAlgoPerf_t, CUDNN_CONVOLUTION_FWD_ALGO_COUNT> perf{};
      check_cudnn(cudnnFindConvolutionForwardAlgorithmEx(h, d.x, ptr(x), d.w, ptr(w), d.conv, d.y, ptr(y),
                                                         static_cast<int>(perf.size()), &returned, perf.data(), ptr(ws), budget),
                  "cudnnFindConvolutionForwardAlgorithmEx", plan.what);
      choose_best(perf.data(), returned, budget, plan.what, d.conv, plan);
      break;
    }
    case Prim::BackwardData: {  // x is dx, y is dy
      const size_t budget = find_budget(CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT, [&](int a, size_t* b) {
        return cudnnGetConvolutionBackwardDataWorkspaceSize(h, d.w, d.y, d.conv, d.x,
                                                            static_cast<cudnnConvolutionBwdDataAlgo_t>(a), b);
      });
      Tensor ws = workspace(budget, dev);
      std::array<cudnnConvolutionBwdDataAlgoPerf_t, CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT> perf{};
      check_cudnn(cudnnFindConvolutionBackwardDataAlgorithmEx(h, d.w, ptr(w), d.y, ptr(y), d.conv, d.x, ptr(x),
                                                              static_cast<int>(perf.size()), &returned, perf.data(),
                                                              ptr(ws), budget),
                  "cudnnFindConvolutionBackwardDataAlgorithmEx", plan.what);
      choose_best(perf.data(), returned, budget, plan.what, d.conv, plan);
      break;
    }
    case Prim::BackwardWeight: {  // w is dw, y is dy
      const size_t budget = find_budget(CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT, [&](int a, size_t* b) {
        return cudnnGetConvolutionBackwardFilterWorkspaceSize(h, d.x, d.y, d.conv, d.w,
                                                              static_cast<cudnnConvolutionBwdFilterAlgo_t>(a), b);
      });
      Tensor ws = workspace(budget, dev);
      std::array<cudnnConvolutionBwdFilterAlgoPerf_t, CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT> perf{};
      check_cudnn(cudnnFindConvolutionBackwardFilterAlgorithmEx(h, d.x, ptr(x), d.y, ptr(y), d.conv, d.w, ptr(w),
                                                                static_cast<int>(perf.size()), &returned, perf.data(),
                                                                ptr(ws), budget),
                  "cudnnFindConvolutionBackwardFilterAlgorithmEx", plan.what);
      choose_best(perf.data(), returned, budget, plan.what, d.conv, plan);
      break;
    }
  }
  return s.plans.emplace(std::move(key), std::move(plan)).first->second;
}

}  // namespace

void cudnn_forward(const Tensor& x, const Tensor& w, const Tensor& bias, const Conv2dParams& p, Tensor& y) {
  DeviceState& s = state(x.device().index);
  std::lock_guard<std::mutex> lock(s.mu);
  const Plan& plan = plan_for(s, Prim::Forward, x, w, y, p);
  Tensor ws = workspace(plan.workspace, x.device());
  const float one = 1.f, zero = 0.f;
  check_cudnn(cudnnConvolutionForward(s.handle, &one, plan.d->x, ptr(x), plan.d->w, ptr(w), plan.d->conv,
                                      static_cast<cudnnConvolutionFwdAlgo_t>(plan.algo), ptr(ws), plan.workspace,
                                      &zero, plan.d->y, ptr(y)),
              "cudnnConvolutionForward", plan.what);
  if (bias.defined()) {
    check_cudnn(cudnnAddTensor(s.handle, &one, plan.d->bias, ptr(bias), &one, plan.d->y, ptr(y)), "cudnnAddTensor",
                plan.what);
  }
}

void cudnn_backward_data(const Tensor& dy, const Tensor& w, const Conv2dParams& p, Tensor& dx) {
  DeviceState& s = state(dy.device().index);
  std::lock_guard<std::mutex> lock(s.mu);
  const Plan& plan = plan_for(s, Prim::BackwardData, dx, w, dy, p);
  Tensor ws = workspace(plan.workspace, dy.device());
  const float one = 1.f, zero = 0.f;
  check_cudnn(cudnnConvolutionBackwardData(s.handle, &one, plan.d->w, ptr(w), plan.d->y, ptr(dy), plan.d->conv,
                                           static_cast<cudnnConvolutionBwdDataAlgo_t>(plan.algo), ptr(ws),
                                           plan.workspace, &zero, plan.d->x, ptr(dx)),
              "cudnnConvolutionBackwardData", plan.what);
}

void cudnn_backward_weight(const Tensor& dy, const Tensor& x, const Conv2dParams& p, Tensor& dw) {
  DeviceState& s = state(dy.device().index);
  std::lock_guard<std::mutex> lock(s.mu);
  const Plan& plan = plan_for(s, Prim::BackwardWeight, x, dw, dy, p);
  Tensor ws = workspace(plan.workspace, dy.device());
  const float one = 1.f, zero = 0.f;
  check_cudnn(cudnnConvolutionBackwardFilter(s.handle, &one, plan.d->x, ptr(x), plan.d->y, ptr(dy), plan.d->conv,
                                             static_cast<cudnnConvolutionBwdFilterAlgo_t>(plan.algo), ptr(ws),
                                             plan.workspace, &zero, plan.d->w, ptr(dw)),
              "cudnnConvolutionBackwardFilter", plan.what);
}

}  // namespace wb::kernels::cuda::detail
