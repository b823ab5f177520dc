// The direct f32 grouped/depthwise kernels (kernels/cpu/conv_grouped.h) against the f64 paths of
// kernels/cpu/conv.cpp (plain depthwise loops, im2col + GEMM), through the public conv API, for
// ordinary and transposed convolutions: forward, dx, dw and db.
#include <algorithm>
#include <cmath>
#include <string>

#include "kernels/conv.h"
#include "kernels/cpu/conv_grouped.h"
#include "tests/util.h"

using namespace wb;
using kernels::Conv2dParams;

namespace {

struct Case {
  const char* name;
  Shape x, w;
  std::array<int64_t, 2> stride, padding;
  int64_t groups;
  int64_t output_padding = 0;  // transposed only
};

Conv2dParams params_of(const Case& c) {
  Conv2dParams p;
  p.stride = c.stride;
  p.padding = c.padding;
  p.groups = c.groups;
  p.output_padding = {c.output_padding, c.output_padding};
  return p;
}

double max_abs(const Tensor& t) {
  double m = 0;
  for (double v : t.to_double_vector()) m = std::max(m, std::fabs(v));
  return m;
}

// f32 against f64 relative to the largest entry of the f64 result (sums of many terms of both signs).
void check_f32(const Tensor& f32, const Tensor& f64, const char* what) {
  CAPTURE(std::string(what));
  REQUIRE(f32.dtype() == DType::F32);
  WB_CHECK_CLOSE(f32.to(DType::F64), f64, 2e-5 * std::max(max_abs(f64), 1.0), 1e-5);
}

// The ordinary convolution whose primitives run: for a transposed conv, the one it is the adjoint of.
kernels::cpu::GroupedConvShape shape_of(const Shape& in, const Shape& out, const Shape& w, const Conv2dParams& p) {
  return {in[0], in[1], in[2], in[3], out[1], out[2], out[3], w[2], w[3], p.stride[0], p.stride[1], p.padding[0],
          p.padding[1], p.groups};
}

void run_case(const Case& c, bool transposed, uint64_t seed) {
  CAPTURE(std::string(c.name));
  const Conv2dParams p = params_of(c);
  const auto hw = transposed ? kernels::conv_transpose2d_output_hw(c.x, c.w, p) : kernels::conv2d_output_hw(c.x, c.w, p);
  const int64_t out_c = transposed ? c.w[1] * c.groups : c.w[0];
  const Shape ys{c.x[0], out_c, hw[0], hw[1]};
  // The case must reach the direct kernels, or it would test im2col against itself.
  CHECK(kernels::cpu::grouped_direct_suits(transposed ? shape_of(ys, c.x, c.w, p) : shape_of(c.x, ys, c.w, p)));
  const Tensor x = test::randn64(c.x, seed, false), w = test::randn64(c.w, seed + 1, false);
  const Tensor b = test::randn64({out_c}, seed + 2, false), dy = test::randn64(ys, seed + 3, false);
  const Tensor x32 = x.to(DType::F32), w32 = w.to(DType::F32), b32 = b.to(DType::F32), dy32 = dy.to(DType::F32);
  if (transposed) {
    check_f32(kernels::conv_transpose2d_forward(x32, w32, b32, p), kernels::conv_transpose2d_forward(x, w, b, p), "y");
    const kernels::ConvGrads g64 = kernels::conv_transpose2d_backward(dy, x, w, p, true, true, true);
    const kernels::ConvGrads g32 = kernels::conv_transpose2d_backward(dy32, x32, w32, p, true, true, true);
    check_f32(g32.dx, g64.dx, "dx");
    check_f32(g32.dw, g64.dw, "dw");
    check_f32(g32.db, g64.db, "db");
  } else {
    check_f32(kernels::conv2d_forward(x32, w32, b32, p), kernels::conv2d_forward(x, w, b, p), "y");
    const kernels::ConvGrads g64 = kernels::conv2d_backward(dy, x, w, p, true, true, true);
    const kernels::ConvGrads g32 = kernels::conv2d_backward(dy32, x32, w32, p, true, true, true);
    check_f32(g32.dx, g64.dx, "dx");
    check_f32(g32.dw, g64.dw, "dw");
    check_f32(g32.db, g64.db, "db");
  }
}

}  // namespace

TEST_CASE("grouped direct conv2d (f32) equals the f64 reference: depthwise, multipliers, 2-38 channels per group") {
  // Channel counts that are no multiple of the 8 lanes (a block with dead lanes), blocks whose
  // lanes straddle groups (og 3, 5, 12), maps from 1x1 to 17 wide, stride 1, 2 and 3, padding 0,
  // k/2 and more, different per axis, and batches of 1 to 3.
  const Case cases[] = {
      {"depthwise 3x3", {2, 12, 9, 7}, {12, 1, 3, 3}, {1, 1}, {1, 1}, 12},
      {"depthwise 5x5 stride 2 multiplier 3", {2, 5, 8, 9}, {15, 1, 5, 5}, {2, 2}, {2, 2}, 5},
      {"depthwise 7x7 stride 2", {1, 9, 13, 10}, {9, 1, 7, 7}, {2, 2}, {3, 3}, 9},
      {"depthwise 7x7 on a 1x1 map", {1, 8, 1, 1}, {8, 1, 7, 7}, {1, 1}, {3, 3}, 8},
      {"depthwise 3x3 stride 3, no padding", {3, 4, 11, 17}, {4, 1, 3, 3}, {3, 3}, {0, 0}, 4},
      {"depthwise 5x5 padding (1, 3), stride (1, 2)", {1, 6, 7, 8}, {6, 1, 5, 5}, {1, 2}, {1, 3}, 6},
      {"2 per group 3x3", {3, 10, 7, 11}, {10, 2, 3, 3}, {1, 1}, {1, 1}, 5},
      {"2 per group 7x7", {1, 12, 9, 6}, {12, 2, 7, 7}, {1, 1}, {3, 3}, 6},
      {"4 per group 5x5 stride 2, 3 out per group", {1, 16, 9, 8}, {12, 4, 5, 5}, {2, 2}, {2, 2}, 4},
      {"8 per group 7x7, 12 out per group", {2, 16, 6, 7}, {24, 8, 7, 7}, {1, 1}, {3, 3}, 2},
      {"5 per group 3x3 (ViPNAS-Res50 stage 1)", {2, 20, 6, 5}, {20, 5, 3, 3}, {1, 1}, {1, 1}, 4},
      {"38 per group 5x5 stride 2", {1, 76, 7, 6}, {76, 38, 5, 5}, {2, 2}, {2, 2}, 2},
      {"38 per group 5x5", {2, 76, 4, 3}, {76, 38, 5, 5}, {1, 1}, {2, 2}, 2},
  };
  uint64_t seed = 1;
  for (const Case& c : cases) run_case(c, false, seed += 4);
}

TEST_CASE("grouped direct conv_transpose2d (f32) equals the f64 reference") {
  // ViPNAS heads: 4x4 stride 2 padding 1, depthwise and 16 groups of 38 -> 9; plus output padding,
  // an odd kernel and stride 3 (input pixels reached by different tap subsets per phase).
  const Case cases[] = {
      {"depthwise 4x4 stride 2", {2, 11, 5, 4}, {11, 1, 4, 4}, {2, 2}, {1, 1}, 11},
      {"groups 3, 4 -> 3 per group, 4x4 stride 2", {2, 12, 4, 5}, {12, 3, 4, 4}, {2, 2}, {1, 1}, 3},
      {"38 -> 9 per group, 4x4 stride 2", {1, 76, 3, 4}, {76, 9, 4, 4}, {2, 2}, {1, 1}, 2},
      {"3x3 stride 2 output padding 1, groups 4", {1, 8, 4, 5}, {8, 2, 3, 3}, {2, 2}, {1, 1}, 4, 1},
      {"1 -> 2 per group, 5x5 stride 3", {1, 3, 4, 3}, {3, 2, 5, 5}, {3, 3}, {1, 1}, 3},
  };
  uint64_t seed = 100;
  for (const Case& c : cases) run_case(c, true, seed += 4);
}

TEST_CASE("grouped direct conv: the dispatch keeps dense and wide-group convs on im2col") {
  using S = kernels::cpu::GroupedConvShape;
  const S depthwise{1, 120, 64, 48, 120, 64, 48, 7, 7, 1, 1, 3, 3, 120};
  const S dense{1, 64, 16, 16, 64, 16, 16, 3, 3, 1, 1, 1, 1, 1};
  const S wide{1, 128, 16, 16, 128, 16, 16, 3, 3, 1, 1, 1, 1, 2};  // 64 channels per group
  CHECK(kernels::cpu::grouped_direct_suits(depthwise));
  CHECK_FALSE(kernels::cpu::grouped_direct_suits(dense));
  CHECK_FALSE(kernels::cpu::grouped_direct_suits(wide));
}
