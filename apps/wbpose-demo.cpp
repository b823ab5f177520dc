// wbpose-demo: the engine end to end on built-in data. A small convolutional heatmap regressor
// (conv-BN-ReLU x3 at stride 4, then a 1x1 head) learns to find two coloured blobs in noisy
// generated images, trained with Adam on the heatmap MSE; the loss and the localisation error
// are printed as it learns. Exits non-zero if the loss did not fall, so it doubles as a test.
#include <CLI/CLI.hpp>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <span>

#include "autograd/engine.h"
#include "autograd/node.h"
#include "autograd/ops_basic.h"
#include "autograd/ops_conv.h"
#include "autograd/ops_norm.h"
#include "autograd/ops_pose.h"
#include "nn/optimizer.h"
#include "tensor/cuda_runtime.h"
#include "tensor/generator.h"

namespace {

using namespace wb;

constexpr int64_t kH = 64, kW = 48, kStride = 4, kKeypoints = 2;
constexpr double kSigma = 1.5;  // heatmap Gaussian, in heatmap pixels

// A batch of images with a red and a green blob on a noisy background, and their target heatmaps.
struct Batch {
  Tensor images, heatmaps;
  std::vector<double> xy;  // per sample and keypoint: x, y in heatmap pixels
};

Batch make_batch(int64_t n, Generator& gen, Device device) {
  const int64_t hh = kH / kStride, hw = kW / kStride;
  std::vector<float> img(static_cast<size_t>(n * 3 * kH * kW)), hm(static_cast<size_t>(n * kKeypoints * hh * hw));
  Batch b;
  for (int64_t i = 0; i < n; ++i) {
    for (auto& v : std::span(img).subspan(static_cast<size_t>(i * 3 * kH * kW), static_cast<size_t>(3 * kH * kW)))
      v = static_cast<float>(gen.normal(0.0, 0.3));
    for (int64_t k = 0; k < kKeypoints; ++k) {
      const double cx = gen.uniform(4, kW - 5), cy = gen.uniform(4, kH - 5), r = gen.uniform(2.5, 4.5);
      for (int64_t y = 0; y < kH; ++y) {
        for (int64_t x = 0; x < kW; ++x) {
          const double d2 = (x - cx) * (x - cx) + (y - cy) * (y - cy);
          if (d2 <= r * r) img[static_cast<size_t>(((i * 3 + k) * kH + y) * kW + x)] += 1.5f;
        }
      }
      // Heatmap pixel centres sit at image coordinates stride * (u + 0.5) - 0.5.
      const double u = (cx + 0.5) / kStride - 0.5, v = (cy + 0.5) / kStride - 0.5;
      b.xy.push_back(u);
      b.xy.push_back(v);
      for (int64_t y = 0; y < hh; ++y) {
        for (int64_t x = 0; x < hw; ++x) {
          const double d2 = (x - u) * (x - u) + (y - v) * (y - v);
          hm[static_cast<size_t>(((i * kKeypoints + k) * hh + y) * hw + x)] =
              static_cast<float>(std::exp(-d2 / (2 * kSigma * kSigma)));
        }
      }
    }
  }
  b.images = Tensor::from_vector(img, {n, 3, kH, kW}, device);
  b.heatmaps = Tensor::from_vector(hm, {n, kKeypoints, hh, hw}, device);
  return b;
}

struct ConvBn {
  Tensor w, gamma, beta, mean, var;
  int64_t stride;
};

struct Net {
  std::vector<ConvBn> blocks;
  Tensor head_w, head_b;

  Net(Generator& gen, Device d) {
    const int64_t widths[] = {3, 16, 24, 32};
    for (int i = 0; i < 3; ++i) {
      const int64_t cin = widths[i], cout = widths[i + 1];
      const double std = std::sqrt(2.0 / static_cast<double>(cin * 9));  // Kaiming (fan-in, ReLU)
      blocks.push_back({Tensor::randn({cout, cin, 3, 3}, gen, DType::F32, d, 0.0, std), Tensor::ones({cout}, DType::F32, d),
                        Tensor::zeros({cout}, DType::F32, d), Tensor::zeros({cout}, DType::F32, d),
                        Tensor::ones({cout}, DType::F32, d), i < 2 ? 2 : 1});
    }
    head_w = Tensor::randn({kKeypoints, 32, 1, 1}, gen, DType::F32, d, 0.0, 0.001);
    head_b = Tensor::zeros({kKeypoints}, DType::F32, d);
    for (Tensor* p : params()) p->set_requires_grad(true);
  }

  std::vector<Tensor*> params() {
    std::vector<Tensor*> out;
    for (ConvBn& b : blocks) {
      out.push_back(&b.w);
      out.push_back(&b.gamma);
      out.push_back(&b.beta);
    }
    out.push_back(&head_w);
    out.push_back(&head_b);
    return out;
  }

  Tensor forward(const Tensor& x, bool training) {
    Tensor h = x;
    kernels::BatchNormParams bn;
    bn.relu = true;  // the fused BN + ReLU
    for (ConvBn& b : blocks) {
      kernels::Conv2dParams p;
      p.stride = {b.stride, b.stride};
      p.padding = {1, 1};
      h = ops::batch_norm(ops::conv2d(h, b.w, Tensor(), p), b.gamma, b.beta, b.mean, b.var, training, bn);
    }
    return ops::conv2d(h, head_w, head_b, {});
  }
};

// Mean distance in heatmap pixels between the argmax of each predicted heatmap and the truth.
double localisation_error(const Tensor& pred, const std::vector<double>& xy) {
  const std::vector<float> p = pred.to_float_vector();
  const int64_t planes = pred.size(0) * pred.size(1), hh = pred.size(2), hw = pred.size(3);
  double total = 0;
  for (int64_t i = 0; i < planes; ++i) {
    int64_t best = 0;
    for (int64_t j = 1; j < hh * hw; ++j) {
      if (p[static_cast<size_t>(i * hh * hw + j)] > p[static_cast<size_t>(i * hh * hw + best)]) best = j;
    }
    const double dx = static_cast<double>(best % hw) - xy[static_cast<size_t>(2 * i)];
    const double dy = static_cast<double>(best / hw) - xy[static_cast<size_t>(2 * i + 1)];
    total += std::sqrt(dx * dx + dy * dy);
  }
  return total / static_cast<double>(planes);
}

int run(int64_t iters, int64_t batch, uint64_t seed, const std::string& device_name) {
  const Device device = device_name == "auto" ? (cuda::available() ? Device::cuda() : Device::cpu())
                                              : Device::parse(device_name);
  Generator gen(seed);
  Net net(gen, device);
  std::vector<Tensor> params;
  for (Tensor* p : net.params()) params.push_back(*p);
  nn::AdamOptions ao;
  ao.lr = 3e-3;
  nn::Adam opt(params, ao);
  Generator val_gen(seed + 1);
  const Batch val = make_batch(64, val_gen, device);

  std::printf("wbpose-demo: heatmap regressor, 2 keypoints, %lldx%lld input, batch %lld, %lld iterations on %s\n",
              static_cast<long long>(kH), static_cast<long long>(kW), static_cast<long long>(batch),
              static_cast<long long>(iters), device.str().c_str());
  {
    autograd::NoGradGuard no_grad;
    std::printf("before training: val localisation error %.2f heatmap px\n",
                localisation_error(net.forward(val.images, false), val.xy));
  }
  double first_loss = -1, last_loss = 0, window = 0;
  const int64_t report = std::max<int64_t>(1, iters / 10);
  const auto start = std::chrono::steady_clock::now();
  for (int64_t it = 1; it <= iters; ++it) {
    const Batch b = make_batch(batch, gen, device);
    opt.zero_grad();
    Tensor loss = ops::heatmap_mse_loss(net.forward(b.images, true), b.heatmaps);
    autograd::backward(loss);
    opt.step();
    const double l = loss.item();
    if (first_loss < 0) first_loss = l;
    window += l;
    if (it % report == 0 || it == iters) {
      const int64_t n = it % report == 0 ? report : it % report;
      last_loss = window / static_cast<double>(n);
      window = 0;
      autograd::NoGradGuard no_grad;
      const double err = localisation_error(net.forward(val.images, false), val.xy);
      const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      std::printf("iter %5lld  loss %.6f  val localisation error %.2f heatmap px  (%.1f it/s)\n",
                  static_cast<long long>(it), last_loss, err, static_cast<double>(it) / secs);
    }
  }
  std::printf("loss %.6f -> %.6f\n", first_loss, last_loss);
  if (!(last_loss < 0.5 * first_loss)) {
    std::fprintf(stderr, "wbpose-demo: the loss did not fall by half (%.6f -> %.6f)\n", first_loss, last_loss);
    return 2;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"wbpose-demo: train a small heatmap regressor on generated data and watch the loss fall"};
  int64_t iters = 300, batch = 16;
  uint64_t seed = 0;
  std::string device = "cpu";
  app.add_option("--iters", iters, "training iterations")->check(CLI::PositiveNumber);
  app.add_option("--batch", batch, "images per batch")->check(CLI::PositiveNumber);
  app.add_option("--seed", seed, "random seed (data and initial weights)");
  app.add_option("--device", device, "cpu, cuda, cuda:N or auto");
  CLI11_PARSE(app, argc, argv);
  try {
    return run(iters, batch, seed, device);
  } catch (const std::exception& e) {
    std::cerr << "wbpose-demo: " << e.what() << "\n";
    return 1;
  }
}
