#include "bench/cases.h"

#include <memory>

#include "kernels/conv.h"
#include "kernels/elastic.h"
#include "kernels/elementwise.h"
#include "kernels/loss.h"
#include "kernels/norm.h"
#include "kernels/optim.h"
#include "kernels/pool.h"
#include "kernels/resize.h"
#include "kernels/roi_align.h"
#include "tensor/generator.h"
#include "tensor/tensor.h"

namespace wb::bench {

namespace k = wb::kernels;
using nlohmann::json;

namespace {

Tensor rnd(const Shape& s, Device d, uint64_t seed, double scale = 1.0) {
  Generator g(seed);
  return Tensor::randn(s, g, DType::F32, Device::cpu(), 0.0, scale).to(d);
}

double bytes_of(const Shape& s) { return 4.0 * static_cast<double>(numel_of(s)); }

std::string hw(int64_t h, int64_t w) { return std::to_string(h) + "x" + std::to_string(w); }

BenchCase conv_case(const std::string& group, Device d, int64_t n, int64_t cin, int64_t h, int64_t w, int64_t cout,
                    int64_t kernel, int64_t stride, int64_t groups) {
  const int64_t pad = kernel / 2;
  k::Conv2dParams p;
  p.stride = {stride, stride};
  p.padding = {pad, pad};
  p.groups = groups;
  const Shape xs{n, cin, h, w}, ws{cout, cin / groups, kernel, kernel};
  const auto o = k::conv2d_output_hw(xs, ws, p);
  const Shape ys{n, cout, o[0], o[1]};
  auto x = std::make_shared<Tensor>(rnd(xs, d, 1)), wt = std::make_shared<Tensor>(rnd(ws, d, 2, 0.1)),
       dy = std::make_shared<Tensor>(rnd(ys, d, 3));
  BenchCase c;
  c.group = group;
  c.name = "conv" + std::to_string(kernel) + "x" + std::to_string(kernel) + (stride > 1 ? " s2" : "") +
           (groups > 1 ? " g" + std::to_string(groups) : "") + " " + std::to_string(cin) + "->" +
           std::to_string(cout) + " @" + hw(h, w);
  c.spec = {{"op", "conv2d"}, {"x", xs}, {"w", ws}, {"stride", stride}, {"pad", pad}, {"groups", groups}};
  auto run = [=](k::ConvAlgo algo, bool backward) {
    k::Conv2dParams q = p;
    q.algo = algo;
    if (backward) {
      k::conv2d_backward(*dy, *x, *wt, q, true, true, false);
    } else {
      k::conv2d_forward(*x, *wt, Tensor(), q);
    }
  };
  c.fwd = [=] { run(k::ConvAlgo::Native, false); };
  c.bwd = [=] { run(k::ConvAlgo::Native, true); };
  if (d.is_cuda()) {
    c.fwd_cudnn = [=] { run(k::ConvAlgo::Cudnn, false); };
    c.bwd_cudnn = [=] { run(k::ConvAlgo::Cudnn, true); };
  }
  c.fwd_flops = 2.0 * static_cast<double>(numel_of(ys)) * static_cast<double>(cin / groups * kernel * kernel);
  c.bwd_flops = 2.0 * c.fwd_flops;
  c.fwd_bytes = bytes_of(xs) + bytes_of(ws) + bytes_of(ys);
  c.bwd_bytes = 2.0 * bytes_of(xs) + bytes_of(ys) + 2.0 * bytes_of(ws);
  return c;
}

BenchCase deconv_case(const std::string& group, Device d, int64_t n, int64_t cin, int64_t h, int64_t w, int64_t cout,
                      int64_t groups) {
  k::Conv2dParams p;
  p.stride = {2, 2};
  p.padding = {1, 1};
  p.groups = groups;
  const Shape xs{n, cin, h, w}, ws{cin, cout / groups, 4, 4};
  const auto o = k::conv_transpose2d_output_hw(xs, ws, p);
  const Shape ys{n, cout, o[0], o[1]};
  auto x = std::make_shared<Tensor>(rnd(xs, d, 1)), wt = std::make_shared<Tensor>(rnd(ws, d, 2, 0.1)),
       dy = std::make_shared<Tensor>(rnd(ys, d, 3));
  BenchCase c;
  c.group = group;
  c.name = "deconv4x4 s2 g" + std::to_string(groups) + " " + std::to_string(cin) + "->" + std::to_string(cout) + " @" +
           hw(h, w);
  c.spec = {{"op", "conv_transpose2d"}, {"x", xs}, {"w", ws}, {"stride", 2}, {"pad", 1}, {"groups", groups}};
  auto run = [=](k::ConvAlgo algo, bool backward) {
    k::Conv2dParams q = p;
    q.algo = algo;
    if (backward) {
      k::conv_transpose2d_backward(*dy, *x, *wt, q, true, true, false);
    } else {
      k::conv_transpose2d_forward(*x, *wt, Tensor(), q);
    }
  };
  c.fwd = [=] { run(k::ConvAlgo::Native, false); };
  c.bwd = [=] { run(k::ConvAlgo::Native, true); };
  if (d.is_cuda()) {
    c.fwd_cudnn = [=] { run(k::ConvAlgo::Cudnn, false); };
    c.bwd_cudnn = [=] { run(k::ConvAlgo::Cudnn, true); };
  }
  c.fwd_flops = 2.0 * static_cast<double>(numel_of(ys)) * static_cast<double>(cin / groups * 16) / 4.0;
  c.bwd_flops = 2.0 * c.fwd_flops;
  c.fwd_bytes = bytes_of(xs) + bytes_of(ws) + bytes_of(ys);
  c.bwd_bytes = 2.0 * bytes_of(xs) + bytes_of(ys) + 2.0 * bytes_of(ws);
  return c;
}

BenchCase bn_relu_case(const std::string& group, Device d, const Shape& xs) {
  auto x = std::make_shared<Tensor>(rnd(xs, d, 1)), dy = std::make_shared<Tensor>(rnd(xs, d, 2));
  auto gamma = std::make_shared<Tensor>(rnd({xs[1]}, d, 3)), beta = std::make_shared<Tensor>(rnd({xs[1]}, d, 4));
  auto rm = std::make_shared<Tensor>(Tensor::zeros({xs[1]}, DType::F32, d));
  auto rv = std::make_shared<Tensor>(Tensor::ones({xs[1]}, DType::F32, d));
  k::BatchNormParams p;
  p.relu = true;
  auto saved = std::make_shared<k::BatchNormTrainOut>(k::batch_norm_train_forward(*x, *gamma, *beta, *rm, *rv, p));
  BenchCase c;
  c.group = group;
  c.name = "batchnorm+relu (train) " + std::to_string(xs[1]) + " @" + hw(xs[2], xs[3]);
  c.spec = {{"op", "batch_norm_relu"}, {"x", xs}};
  c.fwd = [=] { k::batch_norm_train_forward(*x, *gamma, *beta, *rm, *rv, p); };
  c.bwd = [=] { k::batch_norm_train_backward(*dy, *x, saved->y, *gamma, saved->save_mean, saved->save_invstd, p); };
  c.fwd_bytes = 3.0 * bytes_of(xs);  // statistics pass + normalise pass
  c.bwd_bytes = 5.0 * bytes_of(xs);  // dy, x, y twice (reduction then dx), dx
  return c;
}

BenchCase resize_case(const std::string& group, Device d, const Shape& xs, int64_t factor, bool nearest) {
  k::ResizeParams p;
  p.out_h = xs[2] * factor;
  p.out_w = xs[3] * factor;
  p.align_corners = false;
  const Shape ys{xs[0], xs[1], p.out_h, p.out_w};
  auto x = std::make_shared<Tensor>(rnd(xs, d, 1)), dy = std::make_shared<Tensor>(rnd(ys, d, 2));
  BenchCase c;
  c.group = group;
  c.name = std::string(nearest ? "nearest" : "bilinear") + " x" + std::to_string(factor) + " " +
           std::to_string(xs[1]) + " @" + hw(xs[2], xs[3]);
  c.spec = {{"op", nearest ? "nearest" : "bilinear"}, {"x", xs}, {"out", {p.out_h, p.out_w}}};
  if (nearest) {
    c.fwd = [=] { k::upsample_nearest_forward(*x, p); };
    c.bwd = [=] { k::upsample_nearest_backward(*dy, xs, p); };
  } else {
    c.fwd = [=] { k::resize_bilinear_forward(*x, p); };
    c.bwd = [=] { k::resize_bilinear_backward(*dy, xs, p); };
  }
  c.fwd_bytes = c.bwd_bytes = bytes_of(xs) + bytes_of(ys);
  return c;
}

BenchCase add_relu_case(const std::string& group, Device d, const Shape& xs) {
  auto a = std::make_shared<Tensor>(rnd(xs, d, 1)), b = std::make_shared<Tensor>(rnd(xs, d, 2));
  auto y = std::make_shared<Tensor>(k::relu_forward(*a));
  BenchCase c;
  c.group = group;
  c.name = "add, relu " + std::to_string(xs[1]) + " @" + hw(xs[2], xs[3]);
  c.spec = {{"op", "add_relu"}, {"x", xs}};
  c.fwd = [=] { k::relu_forward(k::add(*a, *b)); };
  c.bwd = [=] { k::relu_backward(*b, *y); };
  c.fwd_bytes = 5.0 * bytes_of(xs);  // two unfused ops
  c.bwd_bytes = 3.0 * bytes_of(xs);
  return c;
}

BenchCase roi_case(const std::string& group, Device d, const Shape& xs, int64_t rois_per_image, int64_t out,
                   double scale) {
  std::vector<double> flat;
  json boxes = json::array();
  for (int64_t n = 0; n < xs[0]; ++n) {
    for (int64_t r = 0; r < rois_per_image; ++r) {
      // Face and hand boxes of a person crop: 40-90 px boxes inside the image (map / scale).
      const double x0 = 10.0 + 23.0 * static_cast<double>((n * 7 + r * 3) % 9);
      const double y0 = 12.0 + 31.0 * static_cast<double>((n * 5 + r) % 8);
      const double s = 40.0 + 25.0 * static_cast<double>(r);
      const std::vector<double> b{static_cast<double>(n), x0, y0, x0 + s, y0 + s};
      flat.insert(flat.end(), b.begin(), b.end());
      boxes.push_back(b);
    }
  }
  const int64_t kr = xs[0] * rois_per_image;
  k::RoIAlignParams p;
  p.out_h = p.out_w = out;
  p.spatial_scale = scale;
  p.sampling_ratio = 2;
  p.aligned = true;
  auto x = std::make_shared<Tensor>(rnd(xs, d, 1));
  auto rois = std::make_shared<Tensor>(Tensor::from_vector(flat, {kr, 5}, DType::F32, d));
  const Shape ys{kr, xs[1], out, out};
  auto dy = std::make_shared<Tensor>(rnd(ys, d, 2));
  BenchCase c;
  c.group = group;
  c.name = "roi_align " + std::to_string(kr) + " rois " + std::to_string(xs[1]) + " @" + hw(xs[2], xs[3]) + " -> " +
           hw(out, out);
  c.spec = {{"op", "roi_align"}, {"x", xs}, {"rois", boxes}, {"out", out}, {"scale", scale}, {"sampling", 2}};
  c.fwd = [=] { k::roi_align_forward(*x, *rois, p); };
  c.bwd = [=] { k::roi_align_backward(*dy, *rois, xs, p); };
  c.fwd_bytes = bytes_of(ys);  // reads are gathered from cache; the output write is compulsory
  c.bwd_bytes = bytes_of(ys) + bytes_of(xs);
  return c;
}

BenchCase loss_case(const std::string& group, Device d, const Shape& s, bool ohkm) {
  auto pred = std::make_shared<Tensor>(rnd(s, d, 1)), target = std::make_shared<Tensor>(rnd(s, d, 2));
  auto w = std::make_shared<Tensor>(Tensor::ones({s[0], s[1]}, DType::F32, d));
  auto dl = std::make_shared<Tensor>(Tensor::ones({}, DType::F32, d));
  BenchCase c;
  c.group = group;
  c.name = std::string(ohkm ? "ohkm mse" : "heatmap mse") + " " + std::to_string(s[1]) + " kpt @" + hw(s[2], s[3]);
  c.spec = {{"op", ohkm ? "ohkm" : "mse"}, {"x", s}, {"topk", 8}};
  if (ohkm) {
    c.fwd = [=] { k::ohkm_mse_forward(*pred, *target, *w, 8); };
    c.bwd = [=] { k::ohkm_mse_backward(*dl, *pred, *target, *w, 8); };
  } else {
    c.fwd = [=] { k::heatmap_mse_forward(*pred, *target, *w); };
    c.bwd = [=] { k::heatmap_mse_backward(*dl, *pred, *target, *w); };
  }
  c.fwd_bytes = 2.0 * bytes_of(s);
  c.bwd_bytes = 3.0 * bytes_of(s);
  return c;
}

BenchCase elastic_case(const std::string& group, Device d, const Shape& ws, k::ElasticSliceParams p) {
  auto w = std::make_shared<Tensor>(rnd(ws, d, 1));
  const Shape ss{p.out_channels, p.in_channels, p.kernel, p.kernel};
  auto ds = std::make_shared<Tensor>(rnd(ss, d, 2));
  BenchCase c;
  c.group = group;
  c.name = "elastic slice " + shape_str(ws) + " -> " + shape_str(ss);
  c.spec = {{"op", "elastic"}, {"w", ws}, {"sub", ss}};
  c.fwd = [=] { k::elastic_slice_forward(*w, p); };
  c.bwd = [=] { k::elastic_slice_backward(*ds, ws, p); };
  c.fwd_bytes = 2.0 * bytes_of(ss);
  c.bwd_bytes = bytes_of(ss) + bytes_of(ws);
  return c;
}

BenchCase adam_case(const std::string& group, Device d, const std::vector<Shape>& shapes) {
  auto params = std::make_shared<std::vector<Tensor>>(), grads = std::make_shared<std::vector<Tensor>>();
  auto m = std::make_shared<std::vector<Tensor>>(), v = std::make_shared<std::vector<Tensor>>();
  double total = 0;
  json js = json::array();
  for (size_t i = 0; i < shapes.size(); ++i) {
    params->push_back(rnd(shapes[i], d, 10 + i));
    grads->push_back(rnd(shapes[i], d, 1000 + i));
    m->push_back(Tensor::zeros(shapes[i], DType::F32, d));
    v->push_back(Tensor::zeros(shapes[i], DType::F32, d));
    total += static_cast<double>(numel_of(shapes[i]));
    js.push_back(shapes[i]);
  }
  BenchCase c;
  c.group = group;
  c.name = "adam step, " + std::to_string(shapes.size()) + " tensors, " +
           std::to_string(static_cast<int64_t>(total / 1e5) / 10.0).substr(0, 4) + "M params";
  c.spec = {{"op", "adam"}, {"shapes", js}};
  c.fwd = [=] {
    k::AdamParams p;
    p.lr = 1e-3;
    k::adam_step(*params, *grads, *m, *v, p);
  };
  c.fwd_bytes = total * 4.0 * 7.0;  // read p, g, m, v; write p, m, v
  return c;
}

// The convolution shapes of HRNet-W32 at an input of h x w (maps at 1/4 ... 1/32).
void hrnet_cases(std::vector<BenchCase>& out, Device d, int64_t n, int64_t h, int64_t w, int64_t keypoints,
                 const GroupFilter& make) {
  const std::string g = "HRNet-W32 " + hw(h, w) + " b" + std::to_string(n);
  if (!make(g)) return;
  const int64_t h4 = h / 4, w4 = w / 4;
  out.push_back(conv_case(g, d, n, 3, h, w, 64, 3, 2, 1));
  out.push_back(conv_case(g, d, n, 64, h / 2, w / 2, 64, 3, 2, 1));
  out.push_back(conv_case(g, d, n, 64, h4, w4, 256, 1, 1, 1));
  out.push_back(conv_case(g, d, n, 256, h4, w4, 64, 1, 1, 1));
  out.push_back(conv_case(g, d, n, 64, h4, w4, 64, 3, 1, 1));
  const int64_t widths[4] = {32, 64, 128, 256};
  for (int b = 0; b < 4; ++b) out.push_back(conv_case(g, d, n, widths[b], h4 >> b, w4 >> b, widths[b], 3, 1, 1));
  out.push_back(conv_case(g, d, n, 32, h4, w4, 64, 3, 2, 1));
  out.push_back(conv_case(g, d, n, 64, h4 / 2, w4 / 2, 32, 1, 1, 1));
  out.push_back(conv_case(g, d, n, 32, h4, w4, keypoints, 1, 1, 1));
  out.push_back(bn_relu_case(g, d, {n, 32, h4, w4}));
  out.push_back(bn_relu_case(g, d, {n, 256, h4 / 8, w4 / 8}));
  out.push_back(resize_case(g, d, {n, 32, h4 / 2, w4 / 2}, 2, true));
  out.push_back(resize_case(g, d, {n, 32, h4 / 8, w4 / 8}, 8, true));
  out.push_back(resize_case(g, d, {n, 32, h4 / 2, w4 / 2}, 2, false));
  out.push_back(add_relu_case(g, d, {n, 32, h4, w4}));
  out.push_back(loss_case(g, d, {n, keypoints, h4, w4}, false));
  out.push_back(loss_case(g, d, {n, keypoints, h4, w4}, true));
}


// The grouped and depthwise convolutions of S-ViPNAS at 256x192 (MMPose's ViPNAS_ResNet and
// ViPNAS_MobileNetV3 defaults): every middle conv shape of each stage (the stride-2 first block and
// the stride-1 rest) and the three 4x4 stride-2 transposed convs of each head.
void vipnas_cases(std::vector<BenchCase>& out, Device d, int64_t n, const GroupFilter& make) {
  const std::string b = " 256x192 b" + std::to_string(n);
  if (const std::string g = "S-ViPNAS-Res50" + b; make(g)) {
    // Stem 7x7 s2 and max pool to 64x48; widths 80/160/304/608, kernels 3/5/5/5, groups 16.
    out.push_back(conv_case(g, d, n, 80, 64, 48, 80, 3, 1, 16));
    out.push_back(conv_case(g, d, n, 160, 64, 48, 160, 5, 2, 16));
    out.push_back(conv_case(g, d, n, 160, 32, 24, 160, 5, 1, 16));
    out.push_back(conv_case(g, d, n, 304, 32, 24, 304, 5, 2, 16));
    out.push_back(conv_case(g, d, n, 304, 16, 12, 304, 5, 1, 16));
    out.push_back(conv_case(g, d, n, 608, 16, 12, 608, 5, 2, 16));
    out.push_back(conv_case(g, d, n, 608, 8, 6, 608, 5, 1, 16));
    out.push_back(deconv_case(g, d, n, 608, 8, 6, 144, 16));
    out.push_back(deconv_case(g, d, n, 144, 16, 12, 144, 16));
    out.push_back(deconv_case(g, d, n, 144, 32, 24, 144, 16));
  }
  if (const std::string g = "S-ViPNAS-MbV3" + b; make(g)) {
    // Stem 3x3 s2 to 128x96; the inverted residuals' middle convs (widths x expansion = 16, 120,
    // 160, 400, 560, 960 channels; groups 8, 120, 20, 100, 280, 240), then the depthwise head.
    out.push_back(conv_case(g, d, n, 16, 128, 96, 16, 3, 1, 8));
    out.push_back(conv_case(g, d, n, 120, 128, 96, 120, 7, 2, 120));
    out.push_back(conv_case(g, d, n, 120, 64, 48, 120, 7, 1, 120));
    out.push_back(conv_case(g, d, n, 160, 64, 48, 160, 7, 2, 20));
    out.push_back(conv_case(g, d, n, 160, 32, 24, 160, 7, 1, 20));
    out.push_back(conv_case(g, d, n, 400, 32, 24, 400, 5, 2, 100));
    out.push_back(conv_case(g, d, n, 400, 16, 12, 400, 5, 1, 100));
    out.push_back(conv_case(g, d, n, 560, 16, 12, 560, 7, 1, 280));
    out.push_back(conv_case(g, d, n, 960, 16, 12, 960, 5, 2, 240));
    out.push_back(conv_case(g, d, n, 960, 8, 6, 960, 5, 1, 240));
    out.push_back(deconv_case(g, d, n, 160, 8, 6, 160, 160));
    out.push_back(deconv_case(g, d, n, 160, 16, 12, 160, 160));
    out.push_back(deconv_case(g, d, n, 160, 32, 24, 160, 160));
  }
}

}  // namespace

std::vector<BenchCase> cpu_op_cases(const GroupFilter& make) {
  std::vector<BenchCase> out;
  const Device d = Device::cpu();
  for (int64_t n : {1, 8}) {
    hrnet_cases(out, d, n, 256, 192, 17, make);
    const std::string g = "ZoomNet heads b" + std::to_string(n);
    if (!make(g)) continue;
    out.push_back(roi_case(g, d, {n, 32, 96, 72}, 3, 64, 0.25));
    out.push_back(elastic_case(g, d, {64, 64, 3, 3}, {32, 48, 3}));
  }
  for (int64_t n : {1, 32}) vipnas_cases(out, d, n, make);
  return out;
}

std::vector<BenchCase> cuda_kernel_cases(const GroupFilter& make) {
  std::vector<BenchCase> out;
  const Device d = Device::cuda();
  hrnet_cases(out, d, 32, 256, 192, 133, make);
  hrnet_cases(out, d, 32, 384, 288, 133, make);
  vipnas_cases(out, d, 32, make);
  if (const std::string g = "ZoomNet 384x288 b32"; make(g)) {
    out.push_back(roi_case(g, d, {32, 32, 96, 72}, 3, 64, 0.25));
    out.push_back(elastic_case(g, d, {256, 256, 3, 3}, {128, 192, 3}));
    std::vector<Shape> shapes;  // about HRNet-W32's 28.5M parameters in 300 tensors of its shapes
    for (int i = 0; i < 100; ++i) {
      shapes.push_back({64 << (i % 3), 64 << (i % 3), 3, 3});
      shapes.push_back({64 << (i % 3)});
      shapes.push_back({64 << (i % 3)});
    }
    out.push_back(adam_case(g, d, shapes));
  }
  return out;
}

}  // namespace wb::bench
