// Direct f32 3x3 convolution, stride 1, padding 1, no dilation or groups (the bulk of HRNet's and
// ResNet's compute), without a column matrix: on an input padded by one pixel all round, each
// output pixel's tap (i, j) of channel c sits at a fixed offset i * (w + 2) + j from it, so a run
// of consecutive output positions over the padded width reads one contiguous run of input for
// every (c, i, j). A register-blocked AVX-512 micro-kernel keeps R output channels x V vectors of
// 16 positions in registers and streams over the c * 9 taps (the two padding columns per row are
// computed and dropped). Bias and a ReLU are applied while storing.
#pragma once
#include <cstdint>

namespace wb::kernels::cpu {

// Whether this build has the kernel (compiled with AVX-512F); callers fall back to im2col if not.
bool conv3x3_direct_available();

// x [n, c, h, w] and w [o, c, 3, 3] contiguous; y [n, o, h, w] is overwritten. bias [o] or null.
void conv3x3_direct(const float* x, const float* w, const float* bias, bool relu, int64_t n, int64_t c, int64_t h,
                    int64_t wd, int64_t o, float* y);

}  // namespace wb::kernels::cpu
