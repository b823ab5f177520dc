// Direct f32 grouped convolution for few channels per group: depthwise (with a channel multiplier),
// ViPNAS's 2-38 channels per group, and through the adjoint identities of kernels/cpu/conv.cpp the
// grouped and depthwise transposed convolutions. The im2col path builds a column matrix and runs
// one small GEMM per group and sample, which at 100-280 groups is nearly all overhead.
//
// Layout: channels go into the vector lanes. L consecutive channels of the result (output
// channels for the forward and the weight gradient, input channels for the data gradient) form a
// block; the operand they read is staged, zero-padded, as [row][column][r][L], where lane l at
// reduction index r holds the channel that lane's group reduces over (for a depthwise block, L
// distinct channels; for 2 output channels per group, each input value twice). Every tap of every
// output pixel is then one vector load and one vector FMA with every lane useful, whatever the
// width of the map (6 to 96 here), the stride or the kernel size. Strided data gradients are split
// by the phase of the input pixel (which taps reach it), so no multiply meets a zero. A register
// block of 8 output pixels (or 8 weight taps for the weight gradient) keeps 8 independent
// accumulators in flight.
//
// The kernels are written once over a vector of L floats with the GCC/Clang vector extension (the
// compiler picks the instructions of the target: 2 x SSE or AVX2 for L = 8; plain loops over an L
// array kept the accumulators in memory). L = 8 is instantiated.
#pragma once
#include <cstdint>

namespace wb::kernels::cpu {

// An ordinary convolution x [n, c, h, w] -> y [n, o, ho, wo], weight [o, c/groups, kh, kw], any
// stride and padding, dilation 1. ho and wo are the usual (h + 2 ph - kh) / sh + 1.
struct GroupedConvShape {
  int64_t n, c, h, w;
  int64_t o, ho, wo;
  int64_t kh, kw;
  int64_t sh, sw, ph, pw;
  int64_t groups;
};

// Whether the direct kernels serve this shape better than im2col + GEMM: groups > 1 (dense convs
// keep the GEMM and the direct 3x3 kernel) with at most 40 channels per group on both sides.
bool grouped_direct_suits(const GroupedConvShape& s);

// Contiguous NCHW tensors; each output is overwritten. The weight gradient sums over the batch.
void grouped_direct_forward(const GroupedConvShape& s, const float* x, const float* w, float* y);
void grouped_direct_backward_data(const GroupedConvShape& s, const float* dy, const float* w, float* dx);
void grouped_direct_backward_weight(const GroupedConvShape& s, const float* x, const float* dy, float* dw);

}  // namespace wb::kernels::cpu
