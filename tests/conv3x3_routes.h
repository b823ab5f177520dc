// The f32 3x3 convolution's routes (direct on every CPU path, Winograd F(2x2, 3x3); im2col for the
// direct route's weight gradient) against the f64 im2col convolution, forward, dx and dw: shared by test_conv.cpp and the CUDA suite, which runs it on the GPU
// machine's host CPU (often one with AVX-512, which CI machines may lack).
#pragma once
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>

#include "kernels/conv.h"
#include "kernels/cpu/conv3x3_winograd.h"
#include "kernels/elementwise.h"
#include "tests/util.h"

namespace wb::test {

inline void check_conv3x3_routes() {
  using kernels::Conv2dParams;
  auto params = [](int64_t stride) {
    Conv2dParams p;
    p.stride = {stride, stride};
    p.padding = {1, 1};
    return p;
  };
  // Strides 1 and 2 (the stride-2 backward runs im2col in f32). Widths from 1 to past one tile of
  // 64 positions, odd and even (stride 2: the last phase column is real or padding), images whose
  // positions are no multiple of 16 (tiles end inside a vector and cross output rows), channel
  // counts that are no multiple of the register blocks (6, 8, 12) or of 16, batches of 1 and 3 (the
  // work split differs; from 32 (sample, tile) pairs on, e.g. [2, 3, 17, 50] and [4, 3, 50, 41], the
  // weights are packed, below they are read in place). Every CPU path this machine has (16, 8 and 4
  // lanes, each with its own register blockings) runs the same checks, by both routes (stride 1:
  // direct and Winograd F(2x2, 3x3), whose tiles end inside odd images and whose chunks of tiles,
  // at [4, 64, 20, 18], end inside a sample; stride 2 is direct only).
  const Shape shapes[][2] = {{{1, 1, 1, 1}, {1, 1, 3, 3}},     {{3, 5, 7, 6}, {13, 5, 3, 3}},
                             {{1, 16, 8, 6}, {32, 16, 3, 3}},  {{2, 3, 17, 50}, {17, 3, 3, 3}},
                             {{3, 40, 12, 9}, {24, 40, 3, 3}}, {{1, 8, 2, 70}, {7, 8, 3, 3}},
                             {{2, 19, 5, 1}, {9, 19, 3, 3}},   {{1, 33, 16, 12}, {20, 33, 3, 3}},
                             {{4, 3, 50, 41}, {5, 3, 3, 3}},   {{4, 64, 20, 18}, {64, 64, 3, 3}}};
  for_each_cpu_isa([&] {
    for (auto route : {kernels::cpu::Conv3x3Route::direct, kernels::cpu::Conv3x3Route::winograd}) {
      const kernels::cpu::Conv3x3RouteOverride use(route);
      CAPTURE(route == kernels::cpu::Conv3x3Route::winograd ? "winograd" : "direct");
      uint64_t seed = 10;
      for (int64_t stride : {1, 2}) {
        for (const auto& sh : shapes) {
          const Shape& xs = sh[0];
          const Shape& ws = sh[1];
          CAPTURE(stride);
          CAPTURE(shape_str(xs));
          CAPTURE(shape_str(ws));
          const Conv2dParams p = params(stride);
          const double stddev = 1.0 / std::sqrt(static_cast<double>(ws[1] * 9));  // outputs of order 1
          const Tensor x = randn64(xs, seed++, false), w = randn64(ws, seed++, false, stddev);
          const Tensor b = randn64({ws[0]}, seed++, false);
          const auto out = kernels::conv2d_output_hw(xs, ws, p);
          const Tensor dy = randn64({xs[0], ws[0], out[0], out[1]}, seed++, false);
          const Tensor y64 = kernels::conv2d_forward(x, w, b, p);
          const Tensor res = randn64(y64.shape(), seed++, false);
          for (bool relu : {false, true}) {
            CAPTURE(relu);
            Conv2dParams pr = p;
            pr.relu = relu;
            // A scale (here random: the fused BatchNorm) also sends stride 2 to the direct kernel;
            // with and without a residual added before the ReLU.
            const Tensor scale = randn64({ws[0]}, seed++, false);
            for (bool residual : {false, true}) {
              CAPTURE(residual);
              Tensor expected = kernels::mul(y64, scale.view({1, ws[0], 1, 1}));
              if (residual) expected = kernels::add(expected, res);
              if (relu) expected = kernels::relu_forward(expected);
              const Tensor y32 = kernels::conv2d_forward_fused(
                  x.to(DType::F32), w.to(DType::F32),
                  {scale.to(DType::F32), kernels::mul(b, scale).to(DType::F32), residual ? res.to(DType::F32) : Tensor()},
                  pr);
              WB_CHECK_CLOSE(y32.to(DType::F64), expected, 1e-5, 1e-5);
            }
            WB_CHECK_CLOSE(kernels::conv2d_forward(x, w, b, pr), relu ? kernels::relu_forward(y64) : y64, 0.0, 0.0);
          }
          const Tensor dx64 = kernels::conv2d_backward(dy, x, w, p, true, false, false).dx;
          const Tensor dx32 =
              kernels::conv2d_backward(dy.to(DType::F32), x.to(DType::F32), w.to(DType::F32), p, true, false, false).dx;
          WB_CHECK_CLOSE(dx32.to(DType::F64), dx64, 1e-5, 1e-5);
          // The weight gradient sums n h w products per entry: judged on the scale of the largest.
          const Tensor dw64 = kernels::conv2d_backward(dy, x, w, p, false, true, false).dw;
          const Tensor dw32 =
              kernels::conv2d_backward(dy.to(DType::F32), x.to(DType::F32), w.to(DType::F32), p, false, true, false).dw;
          double scale = 0;
          for (double v : dw64.to_double_vector()) scale = std::max(scale, std::fabs(v));
          WB_CHECK_CLOSE(dw32.to(DType::F64), dw64, 1e-5 * scale, 1e-5);
        }
      }
    }
  });
}

}  // namespace wb::test
