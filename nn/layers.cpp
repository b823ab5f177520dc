#include "nn/layers.h"

#include <cmath>
#include <utility>

#include "autograd/node.h"
#include "autograd/ops_basic.h"
#include "autograd/ops_conv.h"
#include "autograd/ops_norm.h"
#include "autograd/ops_pool.h"
#include "nn/flops.h"
#include "nn/init.h"

namespace wb::nn {

namespace {

kernels::Conv2dParams conv_params(Size2 stride, Size2 padding, Size2 dilation, Size2 output_padding, int64_t groups) {
  kernels::Conv2dParams p;
  p.stride = {stride.h, stride.w};
  p.padding = {padding.h, padding.w};
  p.dilation = {dilation.h, dilation.w};
  p.output_padding = {output_padding.h, output_padding.w};
  p.groups = groups;
  return p;
}

void check_channels(const char* layer, int64_t in, int64_t out, int64_t groups) {
  check(in > 0 && out > 0 && groups > 0, layer, ": in_channels ", in, ", out_channels ", out, ", groups ", groups,
        " must be positive");
  check(in % groups == 0 && out % groups == 0, layer, ": in_channels ", in, " and out_channels ", out,
        " must be divisible by groups ", groups);
}

// torch.nn's default for conv and linear layers: kaiming_uniform(a = sqrt(5)) weights, which is
// U(+-1/sqrt(fan_in)), and a bias from the same range.
void torch_default_init(Tensor& weight, Tensor& bias, Generator& gen) {
  init::kaiming_uniform_(weight, gen, init::FanMode::FanIn, init::Nonlinearity::LeakyReLU, std::sqrt(5.0));
  if (bias.defined()) {
    const double bound = 1.0 / std::sqrt(static_cast<double>(init::fans(weight).fan_in));
    init::uniform_(bias, gen, -bound, bound);
  }
}

// Multiply-adds of a conv-like layer in the papers' convention: weight numel per output pixel.
int64_t weight_macs(const Tensor& weight, const Tensor& y) {
  int64_t pixels = y.size(0);
  for (int64_t d = 2; d < y.dim(); ++d) pixels *= y.size(d);
  return weight.numel() * pixels;
}

}  // namespace

// ---- Conv2d ----

Conv2d::Conv2d(const Conv2dOptions& o) : options_(o) {
  check_channels("Conv2d", o.in_channels, o.out_channels, o.groups);
  weight =
      register_parameter("weight", Tensor::zeros({o.out_channels, o.in_channels / o.groups, o.kernel.h, o.kernel.w}));
  if (o.bias) bias = register_parameter("bias", Tensor::zeros({o.out_channels}));
}

Tensor Conv2d::forward(const Tensor& x) {
  const auto& o = options_;
  Tensor y = ops::conv2d(x, weight, bias, conv_params(o.stride, o.padding, o.dilation, 0, o.groups));
  report_macs(*this, weight_macs(weight, y));
  return y;
}

namespace {

// An eval-mode BN after a conv with bias b, as the per-channel affine map of the conv's output:
// scale = gamma / sqrt(var + eps), shift = (b - mean) * scale + beta. Computed in double on the host
// (the tensors have one value per channel) and returned in the weight's dtype and device.
std::pair<Tensor, Tensor> bn_affine(const Tensor& weight, const Tensor& bias, const BatchNorm2d& bn) {
  const int64_t o = weight.size(0);
  auto host = [](const Tensor& t) { return t.cpu().to(DType::F64).contiguous(); };
  const Tensor g = host(bn.weight), beta = host(bn.bias), mean = host(bn.running_mean), var = host(bn.running_var);
  const Tensor b = bias.defined() ? host(bias) : Tensor();
  Tensor scale = Tensor::empty({o}, DType::F64), shift = Tensor::empty({o}, DType::F64);
  const double *pg = g.data<double>(), *pbeta = beta.data<double>(), *pm = mean.data<double>(),
               *pv = var.data<double>(), *pb = b.defined() ? b.data<double>() : nullptr;
  double *ps = scale.data<double>(), *pt = shift.data<double>();
  for (int64_t oc = 0; oc < o; ++oc) {
    ps[oc] = pg[oc] / std::sqrt(pv[oc] + bn.params().eps);
    pt[oc] = ((pb ? pb[oc] : 0.0) - pm[oc]) * ps[oc] + pbeta[oc];
  }
  auto out = [&](const Tensor& t) { return t.to(weight.dtype()).to(weight.device()); };
  return {out(scale), out(shift)};
}

}  // namespace

Tensor Conv2d::forward_bn(BatchNorm2d& bn, const Tensor& x, bool relu, const Tensor& residual) {
  check(bn.channels() == options_.out_channels, "Conv2d(", options_.in_channels, " -> ", options_.out_channels,
        "): forward_bn with BatchNorm2d(", bn.channels(), ")");
  if (bn.is_training() || autograd::needs_grad({&x, &weight, &bias, &bn.weight, &bn.bias, &residual})) {
    const Tensor y = (*this)(x);
    if (!residual.defined()) return relu ? bn.forward_relu(y) : bn(y);
    const Tensor sum = ops::add(bn(y), residual);
    return relu ? ops::relu(sum) : sum;
  }
  // BN folded into the conv: the profiler sees one conv, this module's.
  return profiled([&] {
    const auto [scale, shift] = bn_affine(weight, bias, bn);
    const auto& o = options_;
    kernels::Conv2dParams p = conv_params(o.stride, o.padding, o.dilation, 0, o.groups);
    p.relu = relu;
    Tensor y = ops::conv2d_fused(x, weight, {scale, shift, residual}, p);
    report_macs(*this, weight_macs(weight, y));
    return y;
  });
}

void Conv2d::reset_parameters(Generator& gen) { torch_default_init(weight, bias, gen); }

// ---- ConvTranspose2d ----

ConvTranspose2d::ConvTranspose2d(const ConvTranspose2dOptions& o) : options_(o) {
  check_channels("ConvTranspose2d", o.in_channels, o.out_channels, o.groups);
  weight =
      register_parameter("weight", Tensor::zeros({o.in_channels, o.out_channels / o.groups, o.kernel.h, o.kernel.w}));
  if (o.bias) bias = register_parameter("bias", Tensor::zeros({o.out_channels}));
}

Tensor ConvTranspose2d::forward(const Tensor& x) {
  const auto& o = options_;
  Tensor y =
      ops::conv_transpose2d(x, weight, bias, conv_params(o.stride, o.padding, o.dilation, o.output_padding, o.groups));
  report_macs(*this, weight_macs(weight, y));
  return y;
}

void ConvTranspose2d::reset_parameters(Generator& gen) { torch_default_init(weight, bias, gen); }

// ---- Linear ----

Linear::Linear(int64_t in_features, int64_t out_features, bool with_bias) {
  check(in_features > 0 && out_features > 0, "Linear: in_features ", in_features, " and out_features ", out_features,
        " must be positive");
  weight = register_parameter("weight", Tensor::zeros({out_features, in_features}));
  if (with_bias) bias = register_parameter("bias", Tensor::zeros({out_features}));
}

Tensor Linear::forward(const Tensor& x) {
  Tensor y = ops::linear(x, weight, bias);
  report_macs(*this, weight.numel() * y.size(0));
  return y;
}

void Linear::reset_parameters(Generator& gen) { torch_default_init(weight, bias, gen); }

// ---- BatchNorm2d ----

BatchNorm2d::BatchNorm2d(int64_t channels, double eps, double momentum) : channels_(channels) {
  check(channels > 0, "BatchNorm2d: channels ", channels, " must be positive");
  check(eps > 0.0 && momentum >= 0.0 && momentum <= 1.0, "BatchNorm2d(", channels, "): eps ", eps, " and momentum ",
        momentum, " out of range");
  params_.eps = eps;
  params_.momentum = momentum;
  weight = register_parameter("weight", Tensor::ones({channels}));
  bias = register_parameter("bias", Tensor::zeros({channels}));
  running_mean = register_buffer("running_mean", Tensor::zeros({channels}));
  running_var = register_buffer("running_var", Tensor::ones({channels}));
  // A host buffer: counting steps must not synchronise with the GPU.
  num_batches_tracked = register_buffer("num_batches_tracked", Tensor::zeros({}, DType::I64), /*host=*/true);
}

Tensor BatchNorm2d::run(const Tensor& x, bool relu) {
  check(x.dim() == 4 && x.size(1) == channels_, "BatchNorm2d(", channels_, "): input ", x.str(), " is not [N, ",
        channels_, ", H, W]");
  kernels::BatchNormParams p = params_;
  p.relu = relu;
  Tensor y = is_training() && sync_ && sync_->size() > 1
                 ? ops::sync_batch_norm(x, weight, bias, running_mean, running_var, p, *sync_)
                 : ops::batch_norm(x, weight, bias, running_mean, running_var, is_training(), p);
  if (is_training()) ++*num_batches_tracked.data<int64_t>();
  return y;
}

Tensor BatchNorm2d::forward(const Tensor& x) { return run(x, false); }

void BatchNorm2d::set_momentum(double momentum) {
  check(momentum >= 0.0 && momentum <= 1.0, "BatchNorm2d(", channels_, "): momentum ", momentum, " out of [0, 1]");
  params_.momentum = momentum;
}
Tensor BatchNorm2d::forward_relu(const Tensor& x) {
  return profiled([&] { return run(x, true); });
}

void BatchNorm2d::reset_parameters(Generator&) {
  init::constant_(weight, 1.0);
  init::constant_(bias, 0.0);
  init::constant_(running_mean, 0.0);
  init::constant_(running_var, 1.0);
  init::constant_(num_batches_tracked, 0.0);
}

// ---- activations, pooling, identity ----

Tensor ReLU::forward(const Tensor& x) { return ops::relu(x); }
Tensor Sigmoid::forward(const Tensor& x) { return ops::sigmoid(x); }
Tensor HSwish::forward(const Tensor& x) { return ops::hswish(x); }

HSigmoid::HSigmoid(double bias, double divisor) : bias_(bias), divisor_(divisor) {
  check(divisor > 0.0, "HSigmoid: divisor ", divisor, " must be positive");
}

Tensor HSigmoid::forward(const Tensor& x) {
  if (bias_ == 3.0 && divisor_ == 6.0) return ops::hsigmoid(x);
  // clamp((x + b) / d, 0, 1) = hsigmoid(6 (x + b) / d - 3), since hsigmoid(u) = clamp((u + 3) / 6, 0, 1).
  return ops::hsigmoid(ops::add_scalar(ops::scale(x, 6.0 / divisor_), 6.0 * bias_ / divisor_ - 3.0));
}

PReLU::PReLU(int64_t num_parameters, double init) : init_(init) {
  check(num_parameters > 0, "PReLU: num_parameters ", num_parameters, " must be positive");
  weight = register_parameter("weight", Tensor::full({num_parameters}, init));
}

Tensor PReLU::forward(const Tensor& x) { return ops::prelu(x, weight); }
void PReLU::reset_parameters(Generator&) { init::constant_(weight, init_); }

Tensor MaxPool2d::forward(const Tensor& x) { return ops::max_pool2d(x, params_); }

// ---- Sequential ----

Sequential::Sequential(std::vector<std::shared_ptr<Module>> modules) {
  for (auto& m : modules) push_back(std::move(m));
}

// Conv2d, BatchNorm2d (, ReLU) runs go through Conv2d::forward_bn, which folds the BN (and the
// ReLU) into the conv at inference and runs them one by one otherwise.
Tensor Sequential::forward(const Tensor& x) {
  Tensor y = x;
  for (size_t i = 0; i < modules_.size(); ++i) {
    auto* conv = dynamic_cast<Conv2d*>(modules_[i].get());
    auto* bn = i + 1 < modules_.size() ? dynamic_cast<BatchNorm2d*>(modules_[i + 1].get()) : nullptr;
    if (conv && bn) {
      const bool relu = i + 2 < modules_.size() && dynamic_cast<ReLU*>(modules_[i + 2].get());
      y = conv->forward_bn(*bn, y, relu);
      i += relu ? 2 : 1;
    } else {
      y = (*modules_[i])(y);
    }
  }
  return y;
}

const std::shared_ptr<Module>& Sequential::operator[](size_t i) const {
  check(i < modules_.size(), "Sequential: index ", i, " out of range (", modules_.size(), " modules)");
  return modules_[i];
}

std::shared_ptr<Module> make_activation(Activation a, double hsigmoid_bias, double hsigmoid_divisor) {
  switch (a) {
    case Activation::None:
      return nullptr;
    case Activation::ReLU:
      return std::make_shared<ReLU>();
    case Activation::Sigmoid:
      return std::make_shared<Sigmoid>();
    case Activation::HSigmoid:
      return std::make_shared<HSigmoid>(hsigmoid_bias, hsigmoid_divisor);
    case Activation::HSwish:
      return std::make_shared<HSwish>();
    case Activation::PReLU:
      return std::make_shared<PReLU>();
  }
  fail("make_activation: unknown activation");
}

// ---- ConvModule ----

ConvModule::ConvModule(ConvModuleOptions o) : act_(o.act) {
  o.conv.bias = !o.with_bn;
  conv = register_module("conv", std::make_shared<Conv2d>(o.conv));
  if (o.with_bn) bn = register_module("bn", std::make_shared<BatchNorm2d>(o.conv.out_channels));
  if (auto a = make_activation(o.act, o.hsigmoid_bias, o.hsigmoid_divisor)) activate = register_module("activate", a);
}

Tensor ConvModule::forward(const Tensor& x) {
  if (bn) {
    const bool fused_relu = act_ == Activation::ReLU;
    const Tensor y = conv->forward_bn(*bn, x, fused_relu);
    return activate && !fused_relu ? (*activate)(y) : y;
  }
  const Tensor y = (*conv)(x);
  return activate ? (*activate)(y) : y;
}

void ConvModule::reset_parameters(Generator& gen) {
  init::kaiming_normal_(conv->weight, gen, init::FanMode::FanOut, init::Nonlinearity::ReLU);
  if (conv->bias.defined()) init::constant_(conv->bias, 0.0);
  if (bn) bn->reset_parameters(gen);
  if (activate) activate->reset_parameters(gen);
}

// ---- SELayer ----

SELayer::SELayer(const SELayerOptions& o) {
  check(o.channels > 0 && o.ratio > 0.0, "SELayer: channels ", o.channels, " and ratio ", o.ratio, " must be positive");
  check(o.gate == Activation::Sigmoid || o.gate == Activation::HSigmoid,
        "SELayer: the gate must be Sigmoid or HSigmoid");
  // Python's int(channels / ratio): truncation toward zero.
  const auto squeezed = static_cast<int64_t>(static_cast<double>(o.channels) / o.ratio);
  check(squeezed > 0, "SELayer: channels ", o.channels, " / ratio ", o.ratio, " leaves no channel");
  conv1 = register_module(
      "conv1",
      std::make_shared<ConvModule>(ConvModuleOptions{
          .conv = {.in_channels = o.channels, .out_channels = squeezed}, .with_bn = false, .act = Activation::ReLU}));
  conv2 = register_module(
      "conv2", std::make_shared<ConvModule>(ConvModuleOptions{.conv = {.in_channels = squeezed, .out_channels = o.channels},
                                                              .with_bn = false,
                                                              .act = o.gate,
                                                              .hsigmoid_bias = o.gate_bias,
                                                              .hsigmoid_divisor = o.gate_divisor}));
}

Tensor SELayer::forward(const Tensor& x) {
  const Tensor gate = (*conv2)((*conv1)(ops::global_avg_pool(x)));
  return ops::mul(x, gate);
}

// ---- LayerNorm ----

LayerNorm::LayerNorm(Shape normalized_shape, double eps) : normalized_shape_(std::move(normalized_shape)), eps_(eps) {
  check(!normalized_shape_.empty() && numel_of(normalized_shape_) > 1 && eps > 0.0, "LayerNorm: normalized_shape ",
        Tensor::empty(normalized_shape_).str(), " must hold more than one element and eps ", eps, " be positive");
  weight = register_parameter("weight", Tensor::ones(normalized_shape_));
  bias = register_parameter("bias", Tensor::zeros(normalized_shape_));
}

Tensor LayerNorm::forward(const Tensor& x) {
  const auto nd = static_cast<int64_t>(normalized_shape_.size());
  bool fits = x.dim() > nd;
  for (int64_t i = 0; fits && i < nd; ++i) fits = x.size(x.dim() - nd + i) == normalized_shape_[i];
  check(fits, "LayerNorm: input ", x.str(), " does not end in normalized_shape ", weight.str());
  const int64_t d = numel_of(normalized_shape_), rows = x.numel() / d;
  // Layer norm of each row is batch norm of a [1, rows, d] tensor with one "channel" per row:
  // the same biased-variance statistics and the same backward, so the BN kernels serve both.
  const Tensor ones = Tensor::ones({rows}, x.dtype(), x.device());
  const Tensor zeros = Tensor::zeros({rows}, x.dtype(), x.device());
  Tensor no_running_mean, no_running_var;
  kernels::BatchNormParams p;
  p.eps = eps_;
  const Tensor normalised = ops::batch_norm(ops::reshape(x, {1, rows, d}), ones, zeros, no_running_mean, no_running_var,
                                            /*training=*/true, p);
  return ops::add(ops::mul(ops::reshape(normalised, x.shape()), weight), bias);
}

void LayerNorm::reset_parameters(Generator&) {
  init::constant_(weight, 1.0);
  init::constant_(bias, 0.0);
}

// ---- ContextBlock ----

namespace {

std::shared_ptr<Sequential> gc_transform(int64_t channels, int64_t planes) {
  auto s = std::make_shared<Sequential>();
  s->push_back(std::make_shared<Conv2d>(Conv2dOptions{.in_channels = channels, .out_channels = planes}));
  s->push_back(std::make_shared<LayerNorm>(Shape{planes, 1, 1}));
  s->push_back(std::make_shared<ReLU>());
  s->push_back(std::make_shared<Conv2d>(Conv2dOptions{.in_channels = planes, .out_channels = channels}));
  return s;
}

}  // namespace

ContextBlock::ContextBlock(const ContextBlockOptions& o) {
  check(o.in_channels > 0 && o.ratio > 0.0, "ContextBlock: in_channels ", o.in_channels, " and ratio ", o.ratio,
        " must be positive");
  check(o.channel_add || o.channel_mul, "ContextBlock: at least one fusion (channel_add, channel_mul) is required");
  const auto planes = static_cast<int64_t>(static_cast<double>(o.in_channels) * o.ratio);
  check(planes > 1, "ContextBlock: in_channels ", o.in_channels, " * ratio ", o.ratio,
        " must give more than one channel for the transform's LayerNorm");
  if (o.attention_pooling)
    conv_mask = register_module(
        "conv_mask", std::make_shared<Conv2d>(Conv2dOptions{.in_channels = o.in_channels, .out_channels = 1}));
  if (o.channel_add) channel_add_conv = register_module("channel_add_conv", gc_transform(o.in_channels, planes));
  if (o.channel_mul) channel_mul_conv = register_module("channel_mul_conv", gc_transform(o.in_channels, planes));
}

Tensor ContextBlock::spatial_pool(const Tensor& x) {
  if (!conv_mask) return ops::global_avg_pool(x);
  check(x.dim() == 4, "ContextBlock: input ", x.str(), " is not [N, C, H, W]");
  const int64_t n = x.size(0), c = x.size(1), hw = x.size(2) * x.size(3);
  const Tensor logits = ops::reshape((*conv_mask)(x), {n, hw});
  // Softmax over the pixels as exp(z - m - log sum exp(z - m)). The row maximum m only keeps
  // exp in range; softmax does not depend on it, so it is taken outside the graph.
  Tensor row_max;
  {
    const autograd::NoGradGuard no_grad;
    kernels::Pool2dParams p;
    p.kernel = p.stride = {1, hw};
    row_max = ops::max_pool2d(logits.detach().reshape({n, 1, 1, hw}), p).reshape({n, 1});
  }
  const Tensor ones = Tensor::ones({1, hw}, x.dtype(), x.device());  // a linear layer that sums rows
  const Tensor z = ops::sub(logits, row_max);
  const Tensor log_sum = ops::log(ops::linear(ops::exp(z), ones, Tensor()));
  const Tensor attention = ops::exp(ops::sub(z, log_sum));  // [N, HW]
  const Tensor weighted = ops::mul(ops::reshape(x, {n, c, hw}), ops::reshape(attention, {n, 1, hw}));
  return ops::reshape(ops::linear(ops::reshape(weighted, {n * c, hw}), ones, Tensor()), {n, c, 1, 1});
}

Tensor ContextBlock::forward(const Tensor& x) {
  const Tensor context = spatial_pool(x);
  Tensor out = x;
  if (channel_mul_conv) out = ops::mul(out, ops::sigmoid((*channel_mul_conv)(context)));
  if (channel_add_conv) out = ops::add(out, (*channel_add_conv)(context));
  return out;
}

void ContextBlock::reset_parameters(Generator& gen) {
  if (conv_mask) {
    init::kaiming_normal_(conv_mask->weight, gen, init::FanMode::FanIn, init::Nonlinearity::ReLU);
    init::constant_(conv_mask->bias, 0.0);
  }
  for (const auto& t : {channel_add_conv, channel_mul_conv}) {
    if (!t) continue;
    t->reset_parameters(gen);
    auto& last = static_cast<Conv2d&>(*(*t)[3]);
    init::constant_(last.weight, 0.0);
    init::constant_(last.bias, 0.0);
  }
}

}  // namespace wb::nn
