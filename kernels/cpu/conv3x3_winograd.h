// F(2x2, 3x3) Winograd convolution (Lavin and Gray, "Fast Algorithms for Convolutional Neural
// Networks", 2016) for f32 3x3 convolutions with stride 1 and padding 1: the other route, beside
// conv3x3_direct and im2col, for the stride-1 3x3 convs that make up most of HRNet's and ResNet's
// work: forward, data gradient (the flipped-kernel identity of kernels/cpu/conv.cpp) and weight
// gradient.
//
// Each 2x2 block of outputs is computed from its 4x4 input patch d as A^T [(G g G^T) * (B^T d B)] A.
// Per (output channel, input channel) that is 16 multiplies for 4 outputs where the direct conv
// needs 36, so the multiply-adds drop 2.25-fold; the transforms are additions only (coefficients 0,
// +-1, +-1/2), and in f32 the result stays within a few ulps of the direct sum of 9 products. The 16
// products of transformed weights and inputs are 16 GEMMs [o, c] x [c, tiles] (Eigen), run over
// chunks of tiles sized to stay in L2, one chunk per thread at a time.
#pragma once
#include <cstdint>

#include "kernels/cpu/conv3x3_direct.h"

namespace wb::kernels::cpu {

// Whether Winograd is the faster route for this shape on this machine (see conv3x3_winograd.cpp
// for the measurements behind it). WBPOSE_CONV3X3=direct|winograd forces a route for every shape
// (tests, benchmarks); Conv3x3RouteOverride does the same in a scope.
bool conv3x3_prefers_winograd(int64_t n, int64_t c, int64_t h, int64_t w, int64_t o);

enum class Conv3x3Route { automatic, direct, winograd };
class Conv3x3RouteOverride {
 public:
  explicit Conv3x3RouteOverride(Conv3x3Route route);
  ~Conv3x3RouteOverride();
  Conv3x3RouteOverride(const Conv3x3RouteOverride&) = delete;
  Conv3x3RouteOverride& operator=(const Conv3x3RouteOverride&) = delete;

 private:
  int previous_;
};

// Same contract as conv3x3_direct with stride 1: x [n, c, h, w], w [o, c, 3, 3], y [n, o, h, w]
// overwritten, the epilogue applied while storing.
void conv3x3_winograd(const float* x, const float* w, const DirectEpilogue& e, int64_t n, int64_t c, int64_t h,
                      int64_t wd, int64_t o, float* y);

// The weight gradient of that convolution, dw [o, c, 3, 3] (overwritten) = the sum over the batch,
// by the same tiles: dU = sum over tiles of (A dy A^T) * (B^T d B) per element, 16 GEMMs
// [o, tiles] x [tiles, c], then dw = G^T dU G. Deterministic for a given thread count.
void conv3x3_winograd_backward_weight(const float* x, const float* dy, int64_t n, int64_t c, int64_t h, int64_t wd,
                                      int64_t o, float* dw);

}  // namespace wb::kernels::cpu
