// Direct f32 3x3 convolution, stride 1 or 2, padding 1, no dilation or groups (the bulk of HRNet's
// and ResNet's compute, and HRNet's transitions and fuse downsampling), without a column matrix.
//
// The input is first rearranged into zero-bordered planes on which every tap (i, j) of an output
// position p (counted over the output image, row-major) sits at p plus a fixed offset: for stride 1
// the input with a zero row above and below; for stride 2 its four phases (even/odd rows x even/odd
// columns), each with a zero row on top. A run of L consecutive output positions (one vector) then
// reads one contiguous run of input per (channel, tap), even across output rows. The lanes whose
// tap would fall into the left or right padding column read the neighbouring row's edge pixel
// instead; those taps read a copy of the plane with that edge column zeroed, so no padding column
// is computed and no lane is masked. A register-blocked micro-kernel keeps R output channels x V
// vectors of positions in registers and streams over the c * 9 taps; the epilogue (a folded
// BatchNorm's scale and shift, a residual, a ReLU) is applied while storing straight into y. The
// body (kernels/cpu/isa/conv3x3_direct_body.h) is compiled per instruction set and runs on the path
// cpu_isa() chooses (kernels/cpu/isa.h).
#pragma once
#include <cstdint>

namespace wb::kernels::cpu {

// Applied to each output while storing it: y = conv * scale[oc] + bias[oc] + residual[same index],
// then max(y, 0) if relu; a null pointer skips its step.
struct DirectEpilogue {
  const float* scale = nullptr;
  const float* bias = nullptr;
  const float* residual = nullptr;  // [n, o, ho, wo]
  bool relu = false;
};

// x [n, c, h, w] and w [o, c, 3, 3] contiguous, stride 1 or 2 (both directions), padding 1; y [n, o,
// ho, wo] (ho = h for stride 1, (h + 1) / 2 for stride 2; likewise wo) is overwritten.
void conv3x3_direct(const float* x, const float* w, const DirectEpilogue& e, int64_t n, int64_t c, int64_t h,
                    int64_t wd, int64_t o, int64_t stride, float* y);

}  // namespace wb::kernels::cpu
