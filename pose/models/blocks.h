// Building blocks shared by the ResNet and HRNet backbones, with torchvision's / MMPose's child
// names (conv1, bn1, ..., downsample.0, downsample.1), so state_dict names match MMPose 1.x.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "nn/layers.h"

namespace wb::pose {

// torch.nn.ModuleList whose entries may be absent (None): an entry keeps its index as its name
// even when earlier ones are absent, as in PyTorch ("fuse_layers.1.0" next to an absent "1.1").
class ModuleList : public nn::Module {
 public:
  std::string type_name() const override { return "ModuleList"; }
  // Appends `m` (may be null: an absent entry) and returns it.
  template <class M>
  std::shared_ptr<M> push_back(std::shared_ptr<M> m) {
    entries_.push_back(m);
    if (m) register_module(std::to_string(entries_.size() - 1), m);
    return m;
  }
  size_t size() const { return entries_.size(); }
  nn::Module* get(size_t i) const { return entries_.at(i).get(); }  // null when absent

 private:
  std::vector<std::shared_ptr<nn::Module>> entries_;
};

// torch.nn.Upsample(scale_factor=s) for an integer s, mode "nearest" or "bilinear" (the latter
// with align_corners=False, the only setting HRNet's users ask for: MMPose's HRNetV2 configs).
class Upsample : public nn::Module {
 public:
  enum class Mode { Nearest, Bilinear };
  explicit Upsample(int64_t scale, Mode mode = Mode::Nearest) : scale_(scale), mode_(mode) {}
  std::string type_name() const override { return "Upsample"; }
  Tensor forward(const Tensor& x) override;

 private:
  int64_t scale_;
  Mode mode_;
};

// conv (no bias, padding k/2) with the given stride.
std::shared_ptr<nn::Conv2d> make_conv(int64_t cin, int64_t cout, int64_t kernel, int64_t stride = 1,
                                      int64_t groups = 1);

enum class BlockKind { Basic, Bottleneck };
int64_t expansion(BlockKind kind);  // output channels / planes: 1 or 4

// relu(bn2(conv2(relu(bn1(conv1(x))))) + identity): 3x3, 3x3 (both with `groups`; NAS sub-networks).
class BasicBlock : public nn::Module {
 public:
  BasicBlock(int64_t cin, int64_t planes, int64_t stride, std::shared_ptr<nn::Module> downsample,
             int64_t groups = 1);
  std::string type_name() const override { return "BasicBlock"; }
  Tensor forward(const Tensor& x) override;

  std::shared_ptr<nn::Conv2d> conv1, conv2;
  std::shared_ptr<nn::BatchNorm2d> bn1, bn2;
  std::shared_ptr<nn::Module> downsample;  // null: identity shortcut
};

// The Bottleneck's middle conv and output width. ResNet's are the defaults; MMPose's
// ViPNAS_Bottleneck searches the kernel, the groups and the expansion (1 in S-ViPNAS-Res50) and
// adds mmcv's ContextBlock (GC attention, ratio max(1/16, 16 / out channels)) after bn3.
struct BottleneckOptions {
  int64_t groups = 1;     // of the middle conv
  int64_t kernel = 3;     // of the middle conv, padding kernel / 2
  int64_t expansion = 4;  // output channels / planes
  bool attention = false;
};

// 1x1 -> kxk (carries the stride: MMPose's "pytorch" style; `groups`) -> 1x1 to expansion x
// planes, [-> GC attention], + identity. The projection shortcut is any conv + BN module: a
// Sequential ("downsample.0", "downsample.1": ResNet, HRNet, ViPNAS) or an nn::ConvModule
// ("downsample.conv", "downsample.bn": MMPose's MSPN).
class Bottleneck : public nn::Module {
 public:
  Bottleneck(int64_t cin, int64_t planes, int64_t stride, std::shared_ptr<nn::Module> downsample,
             int64_t groups = 1);
  Bottleneck(int64_t cin, int64_t planes, int64_t stride, std::shared_ptr<nn::Module> downsample,
             const BottleneckOptions& o);
  std::string type_name() const override { return "Bottleneck"; }
  Tensor forward(const Tensor& x) override;

  std::shared_ptr<nn::Conv2d> conv1, conv2, conv3;
  std::shared_ptr<nn::BatchNorm2d> bn1, bn2, bn3;
  std::shared_ptr<nn::ContextBlock> attention;  // null without
  std::shared_ptr<nn::Module> downsample;       // null: identity shortcut
};

// `blocks` blocks; the first takes `cin` channels and the stride, and gets a 1x1 conv + BN
// projection shortcut ("downsample") when the stride or the channel count changes. `groups` goes
// to the blocks' 3x3 convs.
std::shared_ptr<nn::Sequential> make_res_layer(BlockKind kind, int64_t cin, int64_t planes, int64_t blocks,
                                               int64_t stride = 1, int64_t groups = 1);
// The same for Bottlenecks of the given options; the projection shortcut goes to
// planes x o.expansion channels.
std::shared_ptr<nn::Sequential> make_bottleneck_layer(int64_t cin, int64_t planes, int64_t blocks, int64_t stride,
                                                      const BottleneckOptions& o);

}  // namespace wb::pose
