// Convolution parity: every CUDA path (native dispatcher, cuDNN, autotune) against the CPU, the
// fused inference epilogue, and every tile shape of the implicit-GEMM kernels.
#include <cuda_runtime_api.h>
#include <doctest/doctest.h>

#include "kernels/conv.h"
#include "kernels/linear.h"
#include "tests/cuda/parity.h"

using namespace wb;
using namespace wb::test;
namespace k = wb::kernels;

namespace {

struct ConvShape {
  const char* tag;
  Shape x;  // N, C, H, W
  int64_t out, kernel, stride, pad, dil, groups;
  bool bias;
};

k::Conv2dParams params_of(const ConvShape& s, k::ConvAlgo algo) {
  k::Conv2dParams p;
  p.stride = {s.stride, s.stride};
  p.padding = {s.pad, s.pad};
  p.dilation = {s.dil, s.dil};
  p.groups = s.groups;
  p.algo = algo;
  return p;
}

// TF32 has a 10-bit mantissa: products err by ~1e-3 relative, sums of K of them by ~sqrt(K) less.
constexpr Tol kTf32{1e-4, 4e-3};

ParityCase conv_case(const ConvShape& s, k::ConvAlgo algo, uint64_t seed) {
  const k::Conv2dParams p = params_of(s, algo);
  const Shape w_shape{s.out, s.x[1] / s.groups, s.kernel, s.kernel};
  const auto hw = k::conv2d_output_hw(s.x, w_shape, p);
  ParityCase c;
  c.name = std::string(s.tag) + " algo " + std::to_string(static_cast<int>(algo));
  c.inputs = {rnd(s.x, seed), rnd(w_shape, seed + 1, 0.2), s.bias ? rnd({s.out}, seed + 2) : Tensor(),
              rnd({s.x[0], s.out, hw[0], hw[1]}, seed + 3)};
  c.run = [p](const std::vector<Tensor>& in) -> Outputs {
    Tensor y = k::conv2d_forward(in[0], in[1], in[2], p);
    k::ConvGrads g = k::conv2d_backward(in[3], in[0], in[1], p, true, true, in[2].defined());
    return {{"y", y}, {"dx", g.dx}, {"dw", g.dw}, {"db", g.db}};
  };
  c.tol = kTf32;
  return c;
}

ParityCase deconv_case(const char* tag, const Shape& x, int64_t out, int64_t kernel, int64_t stride, int64_t pad,
                       int64_t out_pad, int64_t groups, k::ConvAlgo algo, uint64_t seed) {
  k::Conv2dParams p;
  p.stride = {stride, stride};
  p.padding = {pad, pad};
  p.output_padding = {out_pad, out_pad};
  p.groups = groups;
  p.algo = algo;
  const Shape w_shape{x[1], out / groups, kernel, kernel};
  const auto hw = k::conv_transpose2d_output_hw(x, w_shape, p);
  ParityCase c;
  c.name = std::string(tag) + " algo " + std::to_string(static_cast<int>(algo));
  c.inputs = {rnd(x, seed), rnd(w_shape, seed + 1, 0.2), rnd({out}, seed + 2), rnd({x[0], out, hw[0], hw[1]}, seed + 3)};
  c.run = [p](const std::vector<Tensor>& in) -> Outputs {
    Tensor y = k::conv_transpose2d_forward(in[0], in[1], in[2], p);
    k::ConvGrads g = k::conv_transpose2d_backward(in[3], in[0], in[1], p, true, true, true);
    return {{"y", y}, {"dx", g.dx}, {"dw", g.dw}, {"db", g.db}};
  };
  c.tol = kTf32;
  return c;
}

// conv2d_forward_fused: y = conv(x, w) * scale + bias + residual, then the ReLU, each step optional.
// On CUDA the scale is folded into the weights and the rest runs after the convolution.
ParityCase fused_case(const ConvShape& s, k::ConvAlgo algo, uint64_t seed) {
  k::Conv2dParams p = params_of(s, algo);
  const Shape w_shape{s.out, s.x[1] / s.groups, s.kernel, s.kernel};
  const auto hw = k::conv2d_output_hw(s.x, w_shape, p);
  ParityCase c;
  c.name = std::string("fused ") + s.tag + " algo " + std::to_string(static_cast<int>(algo));
  c.inputs = {rnd(s.x, seed), rnd(w_shape, seed + 1, 0.2), uniform({s.out}, seed + 2, 0.5, 1.5), rnd({s.out}, seed + 3),
              rnd({s.x[0], s.out, hw[0], hw[1]}, seed + 4)};
  c.run = [p](const std::vector<Tensor>& v) -> Outputs {
    k::Conv2dParams relu = p;
    relu.relu = true;
    return {{"scale_bias_residual_relu", k::conv2d_forward_fused(v[0], v[1], {v[2], v[3], v[4]}, relu)},
            {"scale_bias_residual", k::conv2d_forward_fused(v[0], v[1], {v[2], v[3], v[4]}, p)},
            {"scale_only", k::conv2d_forward_fused(v[0], v[1], {.scale = v[2]}, p)},
            {"residual_relu", k::conv2d_forward_fused(v[0], v[1], {.residual = v[4]}, relu)},
            {"bias_relu", k::conv2d_forward_fused(v[0], v[1], {.bias = v[3]}, relu)}};
  };
  c.tol = kTf32;
  return c;
}

const std::vector<ConvShape> kSmall = {
    {"3x3 odd", {2, 3, 7, 9}, 5, 3, 1, 1, 1, 1, true},
    {"3x3 stride 2", {1, 6, 11, 10}, 7, 3, 2, 1, 1, 1, false},
    {"1x1", {2, 16, 5, 7}, 12, 1, 1, 0, 1, 1, true},
    {"1x1 stride 2", {1, 9, 7, 7}, 4, 1, 2, 0, 1, 1, false},
    {"5x5 groups 4", {1, 8, 11, 10}, 8, 5, 1, 2, 1, 4, true},
    {"7x7 stride 2", {1, 3, 15, 13}, 5, 7, 2, 3, 1, 1, true},
    {"dilation 2", {2, 4, 9, 9}, 6, 3, 1, 2, 2, 1, false},
    {"depthwise 3x3 s2", {2, 8, 9, 7}, 8, 3, 2, 1, 1, 8, true},
    {"depthwise 5x5", {1, 6, 10, 9}, 6, 5, 1, 2, 1, 6, false},
    {"depthwise x2 multiplier", {1, 4, 7, 7}, 8, 3, 1, 1, 1, 4, true},
    {"depthwise 7x7 dil 2", {1, 5, 13, 12}, 5, 7, 1, 6, 2, 5, false},
    {"vipnas g16 5x5", {2, 32, 9, 9}, 32, 5, 1, 2, 1, 16, false},
    {"grouped 8 per group", {1, 32, 8, 8}, 32, 3, 1, 1, 1, 4, true},
    {"wide k, tiny map", {1, 64, 1, 1}, 33, 3, 1, 1, 1, 1, true},
    {"batch 32 small", {32, 5, 6, 5}, 7, 3, 1, 1, 1, 1, true},
};

const std::vector<ConvShape> kLarge = {
    {"hrnet stem 3x3 s2", {8, 3, 256, 192}, 64, 3, 2, 1, 1, 1, false},
    {"hrnet w32 branch1 3x3", {32, 32, 64, 48}, 32, 3, 1, 1, 1, 1, false},
    {"hrnet w32 branch4 3x3", {32, 256, 8, 6}, 256, 3, 1, 1, 1, 1, false},
    {"hrnet 1x1 bottleneck", {32, 64, 64, 48}, 256, 1, 1, 0, 1, 1, false},
    {"hrnet fuse 3x3 s2", {32, 32, 64, 48}, 64, 3, 2, 1, 1, 1, false},
    {"vipnas g16 5x5 b32", {32, 64, 32, 24}, 64, 5, 1, 2, 1, 16, false},
    {"mbv3 depthwise 5x5 b32", {32, 120, 32, 24}, 120, 5, 1, 2, 1, 120, false},
    {"mbv3 depthwise 3x3 s2 b32", {32, 72, 64, 48}, 72, 3, 2, 1, 1, 72, false},
};

// Every grouped middle conv and head transposed conv of S-ViPNAS-Res50 and S-ViPNAS-MobileNetV3
// at 256x192 (MMPose defaults; the same shapes as wbpose-bench's ViPNAS groups), batch 2: the
// direct kernels (fewer than 8 channels per group) and the grouped implicit GEMM (8 to 38).
const std::vector<ConvShape> kViPNAS = {
    {"res50 3x3 g16 80", {2, 80, 64, 48}, 80, 3, 1, 1, 1, 16, false},
    {"res50 5x5 s2 g16 160", {2, 160, 64, 48}, 160, 5, 2, 2, 1, 16, false},
    {"res50 5x5 g16 160", {2, 160, 32, 24}, 160, 5, 1, 2, 1, 16, false},
    {"res50 5x5 s2 g16 304", {2, 304, 32, 24}, 304, 5, 2, 2, 1, 16, false},
    {"res50 5x5 g16 304", {2, 304, 16, 12}, 304, 5, 1, 2, 1, 16, false},
    {"res50 5x5 s2 g16 608", {2, 608, 16, 12}, 608, 5, 2, 2, 1, 16, false},
    {"res50 5x5 g16 608", {2, 608, 8, 6}, 608, 5, 1, 2, 1, 16, false},
    {"mbv3 3x3 g8 16", {2, 16, 128, 96}, 16, 3, 1, 1, 1, 8, true},
    {"mbv3 7x7 s2 dw 120", {2, 120, 128, 96}, 120, 7, 2, 3, 1, 120, false},
    {"mbv3 7x7 dw 120", {2, 120, 64, 48}, 120, 7, 1, 3, 1, 120, false},
    {"mbv3 7x7 s2 g20 160", {2, 160, 64, 48}, 160, 7, 2, 3, 1, 20, false},
    {"mbv3 7x7 g20 160", {2, 160, 32, 24}, 160, 7, 1, 3, 1, 20, false},
    {"mbv3 5x5 s2 g100 400", {2, 400, 32, 24}, 400, 5, 2, 2, 1, 100, false},
    {"mbv3 5x5 g100 400", {2, 400, 16, 12}, 400, 5, 1, 2, 1, 100, false},
    {"mbv3 7x7 g280 560", {2, 560, 16, 12}, 560, 7, 1, 3, 1, 280, false},
    {"mbv3 5x5 s2 g240 960", {2, 960, 16, 12}, 960, 5, 2, 2, 1, 240, false},
    {"mbv3 5x5 g240 960", {2, 960, 8, 6}, 960, 5, 1, 2, 1, 240, true},
};

void run_conv_table(const std::vector<ConvShape>& table, uint64_t seed) {
  for (const ConvShape& s : table) {
    for (k::ConvAlgo algo : {k::ConvAlgo::Native, k::ConvAlgo::Cudnn, k::ConvAlgo::Autotune}) {
      check_parity(conv_case(s, algo, seed));
      seed += 10;
    }
  }
}

}  // namespace

TEST_CASE("parity small: conv2d (native, cudnn, autotune)") {
  if (!require_gpu()) return;
  run_conv_table(kSmall, 100);
}

TEST_CASE("parity small: fused conv epilogue (scale, bias, residual, ReLU)") {
  if (!require_gpu()) return;
  uint64_t seed = 500;
  for (const ConvShape& s : {ConvShape{"1x1 implicit GEMM", {2, 16, 5, 7}, 24, 1, 1, 0, 1, 1, false},
                             ConvShape{"3x3 s2 implicit GEMM", {1, 8, 9, 11}, 40, 3, 2, 1, 1, 1, false},
                             ConvShape{"depthwise 3x3 direct", {2, 8, 9, 7}, 8, 3, 1, 1, 1, 8, false}}) {
    for (k::ConvAlgo algo : {k::ConvAlgo::Native, k::ConvAlgo::Cudnn, k::ConvAlgo::Autotune}) {
      check_parity(fused_case(s, algo, seed));
      seed += 10;
    }
  }
}

TEST_CASE("parity small: conv_transpose2d and linear") {
  if (!require_gpu()) return;
  // Autotune: transposed convs reach the autotune cache through the backward-data primitive.
  for (k::ConvAlgo algo : {k::ConvAlgo::Native, k::ConvAlgo::Cudnn, k::ConvAlgo::Autotune}) {
    check_parity(deconv_case("deconv k4 s2 p1", {2, 8, 5, 7}, 4, 4, 2, 1, 0, 1, algo, 7));
    check_parity(deconv_case("deconv groups 2", {1, 6, 4, 5}, 4, 3, 1, 1, 0, 2, algo, 8));
    check_parity(deconv_case("deconv out_pad 1", {2, 3, 5, 4}, 5, 3, 2, 1, 1, 1, algo, 9));
  }
  for (auto [n, in, out] : std::vector<std::array<int64_t, 3>>{{3, 17, 5}, {32, 512, 133}, {1, 1, 1}}) {
    ParityCase c;
    c.name = "linear " + std::to_string(n) + "x" + std::to_string(in) + "->" + std::to_string(out);
    c.inputs = {rnd({n, in}, 1), rnd({out, in}, 2, 0.1), rnd({out}, 3), rnd({n, out}, 4)};
    c.run = [](const std::vector<Tensor>& v) -> Outputs {
      Tensor y = k::linear_forward(v[0], v[1], v[2]);
      k::LinearGrads g = k::linear_backward(v[3], v[0], v[1], true, true, true);
      return {{"y", y}, {"dx", g.dx}, {"dw", g.dw}, {"db", g.db}};
    };
    c.tol = {1e-5, 1e-5};
    check_parity(c);
  }
}

// Every tile of kernels/cuda/conv_implicit_gemm.cu, on problems sized from this GPU's SM count S
// (the tile choice wants at least 2S blocks), kept small by spreading the blocks over groups:
//   gather_gemm_kernel (forward, backward-data): 128x32 and 64x32 for <= 32 channels per group,
//     128x64, 64x64 and 64x32 above. 64x32 both ways: kSmall ("1x1", "wide k, tiny map").
//   weight_grad_kernel: 128x64 (>= 128 outputs per group), 32x128 (<= 32 outputs per group and
//     >= 128 (channel, tap) columns), 64x64 otherwise.
// Each case below is 1 x (cin_g * G) x 32 x 32, 3x3, stride 1, so a pass has m = 1024 pixels.
TEST_CASE("parity small: implicit-GEMM tile shapes") {
  if (!require_gpu()) return;
  int sms = 0;
  REQUIRE(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0) == cudaSuccess);
  auto case_of = [](const char* tag, int64_t cin_g, int64_t cout_g, int64_t groups) {
    return ConvShape{tag, {1, cin_g * groups, 32, 32}, cout_g * groups, 3, 1, 1, 1, groups, true};
  };
  // 16 -> 16 per group, G = ceil(S/4): 8 * G >= 2S blocks of 128x32 forward and backward-data;
  // weight grad 16 rows x 144 columns: 32x128.
  const ConvShape narrow = case_of("tiles 128x32, wgrad 32x128", 16, 16, (sms + 3) / 4);
  // 8 -> 128 per group, G = ceil(S/8): 16 * G >= 2S blocks of 128x64 forward; weight grad 128x64.
  const ConvShape wide = case_of("tiles 128x64, wgrad 128x64", 8, 128, (sms + 7) / 8);
  // 8 -> 64 per group, G = ceil(S/8): 8 * G < 2S blocks of 128x64 but 16 * G >= 2S of 64x64
  // forward; weight grad 64 rows: 64x64.
  const ConvShape middle = case_of("tiles 64x64, wgrad 64x64", 8, 64, (sms + 7) / 8);
  uint64_t seed = 700;
  for (const ConvShape& s : {narrow, wide, middle}) {
    check_parity(conv_case(s, k::ConvAlgo::Native, seed));
    seed += 10;
  }
}

TEST_CASE("parity large: conv2d on HRNet and ViPNAS shapes") {
  if (!require_gpu()) return;
  run_conv_table(kLarge, 900);
  check_parity(deconv_case("simplebaseline deconv", {8, 256, 16, 12}, 256, 4, 2, 1, 0, 1, k::ConvAlgo::Native, 5));
}

TEST_CASE("parity large: S-ViPNAS grouped convs and grouped/depthwise head deconvs") {
  if (!require_gpu()) return;
  for (const ConvShape& s : kViPNAS) {
    for (k::ConvAlgo algo : {k::ConvAlgo::Native, k::ConvAlgo::Cudnn}) check_parity(conv_case(s, algo, 500));
  }
  for (k::ConvAlgo algo : {k::ConvAlgo::Native, k::ConvAlgo::Cudnn}) {
    check_parity(deconv_case("res50 head deconv g16 608->144 @8x6", {2, 608, 8, 6}, 144, 4, 2, 1, 0, 16, algo, 31));
    check_parity(deconv_case("res50 head deconv g16 144 @16x12", {2, 144, 16, 12}, 144, 4, 2, 1, 0, 16, algo, 32));
    check_parity(deconv_case("res50 head deconv g16 144 @32x24", {2, 144, 32, 24}, 144, 4, 2, 1, 0, 16, algo, 33));
    check_parity(deconv_case("mbv3 head deconv dw 160 @8x6", {2, 160, 8, 6}, 160, 4, 2, 1, 0, 160, algo, 34));
    check_parity(deconv_case("mbv3 head deconv dw 160 @16x12", {2, 160, 16, 12}, 160, 4, 2, 1, 0, 160, algo, 35));
    check_parity(deconv_case("mbv3 head deconv dw 160 @32x24", {2, 160, 32, 24}, 160, 4, 2, 1, 0, 160, algo, 36));
  }
}

TEST_CASE("parity small: an unsupported CUDA conv dtype is an error, never a fallback") {
  if (!require_gpu()) return;
  Tensor x = Tensor::zeros({1, 2, 4, 4}, DType::F64, Device::cuda());
  Tensor w = Tensor::zeros({2, 2, 3, 3}, DType::F64, Device::cuda());
  CHECK_THROWS_AS(k::conv2d_forward(x, w, Tensor(), {}), Error);
}
