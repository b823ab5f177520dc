// The layers of the papers' networks, with PyTorch's (and mmcv's) parameter names, shapes and
// semantics, so that state_dict() names match MMPose 1.x checkpoints.
//
// Weights are allocated on the CPU when a layer is built: conv and linear weights are zero until
// an initialiser runs (nn/init.h; reset_parameters() gives PyTorch's default initialisation),
// BN starts as PyTorch's does (weight 1, bias 0, running_mean 0, running_var 1). Move a finished
// model with Module::to(device).
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "kernels/norm.h"
#include "kernels/pool.h"
#include "nn/module.h"
#include "tensor/communicator.h"
#include "tensor/generator.h"

namespace wb::nn {

// A (height, width) pair that a single number converts to: `.kernel = 3` or `.kernel = {3, 1}`.
struct Size2 {
  int64_t h = 1, w = 1;
  Size2() = default;
  Size2(int64_t v) : h(v), w(v) {}  // NOLINT(google-explicit-constructor): square sizes read naturally
  Size2(int64_t h_, int64_t w_) : h(h_), w(w_) {}
};

struct Conv2dOptions {
  int64_t in_channels = 0;
  int64_t out_channels = 0;
  Size2 kernel = 1;
  Size2 stride = 1;
  Size2 padding = 0;
  Size2 dilation = 1;
  int64_t groups = 1;
  bool bias = true;
};

class BatchNorm2d;

// torch.nn.Conv2d: weight [out, in/groups, kh, kw], bias [out].
class Conv2d : public Module {
 public:
  explicit Conv2d(const Conv2dOptions& o);
  std::string type_name() const override { return "Conv2d"; }
  Tensor forward(const Tensor& x) override;
  // bn(forward(x)) + residual (if defined), then a ReLU if `relu`. For inference (bn in eval mode,
  // no gradient recorded) the BN becomes a per-channel scale gamma / sqrt(var + eps) and shift
  // (b - mean) * scale + beta applied, with the residual and the ReLU, while the conv stores its
  // output: one pass over the activations instead of four, and the weights are used as they are.
  // Otherwise the separate ops run.
  Tensor forward_bn(BatchNorm2d& bn, const Tensor& x, bool relu, const Tensor& residual = Tensor());
  // PyTorch's default: kaiming_uniform(a = sqrt(5)) for the weight, U(+-1/sqrt(fan_in)) for the bias.
  void reset_parameters(Generator& gen) override;
  const Conv2dOptions& options() const { return options_; }

  Tensor weight;
  Tensor bias;  // undefined when options.bias is false

 private:
  Conv2dOptions options_;
};

struct ConvTranspose2dOptions {
  int64_t in_channels = 0;
  int64_t out_channels = 0;
  Size2 kernel = 1;
  Size2 stride = 1;
  Size2 padding = 0;
  Size2 output_padding = 0;
  Size2 dilation = 1;
  int64_t groups = 1;
  bool bias = true;
};

// torch.nn.ConvTranspose2d: weight [in, out/groups, kh, kw], bias [out].
class ConvTranspose2d : public Module {
 public:
  explicit ConvTranspose2d(const ConvTranspose2dOptions& o);
  std::string type_name() const override { return "ConvTranspose2d"; }
  Tensor forward(const Tensor& x) override;
  void reset_parameters(Generator& gen) override;  // PyTorch's default (fan_in from weight dim 1)
  const ConvTranspose2dOptions& options() const { return options_; }

  Tensor weight;
  Tensor bias;

 private:
  ConvTranspose2dOptions options_;
};

// torch.nn.Linear: x [N, in] -> [N, out]; weight [out, in], bias [out].
class Linear : public Module {
 public:
  Linear(int64_t in_features, int64_t out_features, bool bias = true);
  std::string type_name() const override { return "Linear"; }
  Tensor forward(const Tensor& x) override;
  void reset_parameters(Generator& gen) override;  // PyTorch's default

  Tensor weight;
  Tensor bias;
};

// torch.nn.BatchNorm2d with affine weights and tracked running statistics. Buffers:
// running_mean [C], running_var [C], num_batches_tracked (i64, 0-d), which a training-mode
// forward increments. momentum follows PyTorch: running = (1 - momentum) running + momentum batch.
class BatchNorm2d : public Module {
 public:
  explicit BatchNorm2d(int64_t channels, double eps = 1e-5, double momentum = 0.1);
  std::string type_name() const override { return "BatchNorm2d"; }
  Tensor forward(const Tensor& x) override;
  // forward() followed by a ReLU, fused into the BN kernel (the result is the same).
  Tensor forward_relu(const Tensor& x);
  // PyTorch's: weight 1, bias 0, running statistics and batch count reset.
  void reset_parameters(Generator& gen) override;
  int64_t channels() const { return channels_; }
  const kernels::BatchNormParams& params() const { return params_; }
  // The running statistics' update rate in [0, 1] (nn/bn_recalibration.h sets 1 to read one
  // batch's statistics).
  void set_momentum(double momentum);
  // SyncBN: in training mode, the statistics of the whole data-parallel batch (ops::sync_batch_norm)
  // when `comm` has more than one rank. Null (the default, as in MMPose): this rank's own batch.
  void set_sync(dist::Communicator* comm) { sync_ = comm; }

  Tensor weight, bias;
  Tensor running_mean, running_var, num_batches_tracked;

 private:
  Tensor run(const Tensor& x, bool relu);
  int64_t channels_;
  kernels::BatchNormParams params_;
  dist::Communicator* sync_ = nullptr;
};

// Parameterless activations.
class ReLU : public Module {
 public:
  std::string type_name() const override { return "ReLU"; }
  Tensor forward(const Tensor& x) override;
};
class Sigmoid : public Module {
 public:
  std::string type_name() const override { return "Sigmoid"; }
  Tensor forward(const Tensor& x) override;
};
// x * relu6(x + 3) / 6
class HSwish : public Module {
 public:
  std::string type_name() const override { return "HSwish"; }
  Tensor forward(const Tensor& x) override;
};
// mmcv's HSigmoid: clamp((x + bias) / divisor, 0, 1). The defaults (3, 6) are relu6(x + 3) / 6,
// torch.nn.Hardsigmoid; mmcv versions before 1.4 defaulted to (1, 2), which some configs still
// name explicitly.
class HSigmoid : public Module {
 public:
  explicit HSigmoid(double bias = 3.0, double divisor = 6.0);
  std::string type_name() const override { return "HSigmoid"; }
  Tensor forward(const Tensor& x) override;

 private:
  double bias_, divisor_;
};
// torch.nn.PReLU: weight [num_parameters] (1: one shared slope, or C: one per channel), init 0.25.
class PReLU : public Module {
 public:
  explicit PReLU(int64_t num_parameters = 1, double init = 0.25);
  std::string type_name() const override { return "PReLU"; }
  Tensor forward(const Tensor& x) override;
  void reset_parameters(Generator& gen) override;  // back to the constructor's slope

  Tensor weight;

 private:
  double init_;
};
class Identity : public Module {
 public:
  std::string type_name() const override { return "Identity"; }
  Tensor forward(const Tensor& x) override { return x; }
};

// torch.nn.MaxPool2d (ResNet's stem).
class MaxPool2d : public Module {
 public:
  explicit MaxPool2d(const kernels::Pool2dParams& p) : params_(p) {}
  std::string type_name() const override { return "MaxPool2d"; }
  Tensor forward(const Tensor& x) override;

 private:
  kernels::Pool2dParams params_;
};

// Children named "0", "1", ... in order; forward chains them.
class Sequential : public Module {
 public:
  Sequential() = default;
  explicit Sequential(std::vector<std::shared_ptr<Module>> modules);
  std::string type_name() const override { return "Sequential"; }
  Tensor forward(const Tensor& x) override;
  // Appends as child "<size()>" and returns the module.
  template <class M>
  std::shared_ptr<M> push_back(std::shared_ptr<M> m) {
    modules_.push_back(m);
    return register_module(std::to_string(modules_.size() - 1), std::move(m));
  }
  size_t size() const { return modules_.size(); }
  const std::shared_ptr<Module>& operator[](size_t i) const;  // error when out of range

 private:
  std::vector<std::shared_ptr<Module>> modules_;
};

enum class Activation { None, ReLU, Sigmoid, HSigmoid, HSwish, PReLU };
// A fresh activation module (null for None). PReLU gets one shared slope, as mmcv builds it;
// HSigmoid takes mmcv's bias and divisor (ignored by the others).
std::shared_ptr<Module> make_activation(Activation a, double hsigmoid_bias = 3.0, double hsigmoid_divisor = 6.0);

// mmcv's ConvModule in its conv -> norm -> act order: children "conv", then "bn" when with_bn,
// then "activate" (parameterless except PReLU). The conv has a bias exactly when there is no BN
// (mmcv's bias='auto').
struct ConvModuleOptions {
  Conv2dOptions conv;  // conv.bias is ignored: set by with_bn
  bool with_bn = true;
  Activation act = Activation::ReLU;
  double hsigmoid_bias = 3.0, hsigmoid_divisor = 6.0;  // mmcv's HSigmoid arguments, when act is HSigmoid
};
class ConvModule : public Module {
 public:
  explicit ConvModule(ConvModuleOptions o);
  std::string type_name() const override { return "ConvModule"; }
  Tensor forward(const Tensor& x) override;
  // mmcv's init_weights: kaiming normal (fan_out, relu gain) conv weight, zero bias; BN 1 and 0.
  void reset_parameters(Generator& gen) override;

  std::shared_ptr<Conv2d> conv;
  std::shared_ptr<BatchNorm2d> bn;   // null without BN
  std::shared_ptr<Module> activate;  // null without activation

 private:
  Activation act_;
};

// MMPose's SELayer (mmpose/models/backbones/utils/se_layer.py): global average pool, conv1 (1x1,
// C -> int(C / ratio), bias, ReLU), conv2 (1x1 back to C, bias, Sigmoid or HSigmoid), and the
// input scaled channel-wise by the result. Names: conv1.conv.weight/bias, conv2.conv.weight/bias.
struct SELayerOptions {
  int64_t channels = 0;
  double ratio = 16;
  Activation gate = Activation::Sigmoid;  // Sigmoid or HSigmoid
  // The HSigmoid gate's clamp((x + bias) / divisor, 0, 1): mmcv's defaults; MMPose's
  // ViPNAS_MobileNetV3 passes bias 1, divisor 2 (mmcv's pre-1.4.4 HSigmoid).
  double gate_bias = 3.0, gate_divisor = 6.0;
};
class SELayer : public Module {
 public:
  explicit SELayer(const SELayerOptions& o);
  std::string type_name() const override { return "SELayer"; }
  Tensor forward(const Tensor& x) override;

  std::shared_ptr<ConvModule> conv1, conv2;
};

// mmcv's ContextBlock (GCNet's global-context block). Pooling "att": conv_mask (1x1, C -> 1)
// gives one logit per pixel, softmax over H*W, context = attention-weighted sum of x, [N, C, 1, 1];
// "avg": global average pool. Each fusion transforms the context with Sequential(1x1 conv
// C -> planes, LayerNorm([planes, 1, 1]), ReLU, 1x1 conv planes -> C) and adds it to x
// (channel_add_conv) or multiplies x by its sigmoid (channel_mul_conv); mul is applied first.
// planes = int(C * ratio). Names: conv_mask.*, channel_add_conv.{0,1,3}.*, channel_mul_conv.{0,1,3}.*.
struct ContextBlockOptions {
  int64_t in_channels = 0;
  double ratio = 1.0 / 16;
  bool attention_pooling = true;  // false: "avg"
  bool channel_add = true;
  bool channel_mul = false;
};
class ContextBlock : public Module {
 public:
  explicit ContextBlock(const ContextBlockOptions& o);
  std::string type_name() const override { return "ContextBlock"; }
  Tensor forward(const Tensor& x) override;
  // mmcv's: conv_mask kaiming normal (fan_in, relu gain) with zero bias; each fusion transform
  // PyTorch-default, then its last conv zeroed (last_zero_init), so the block starts as identity.
  void reset_parameters(Generator& gen) override;

  std::shared_ptr<Conv2d> conv_mask;                               // null with avg pooling
  std::shared_ptr<Sequential> channel_add_conv, channel_mul_conv;  // null when not fused

 private:
  Tensor spatial_pool(const Tensor& x);
};

// torch.nn.LayerNorm over the trailing dimensions `normalized_shape`, with elementwise affine
// weight (init 1) and bias (init 0) of that shape.
class LayerNorm : public Module {
 public:
  explicit LayerNorm(Shape normalized_shape, double eps = 1e-5);
  std::string type_name() const override { return "LayerNorm"; }
  Tensor forward(const Tensor& x) override;
  void reset_parameters(Generator& gen) override;  // weight 1, bias 0

  Tensor weight, bias;

 private:
  Shape normalized_shape_;
  double eps_;
};

}  // namespace wb::nn
