#include "pose/models/hrnet.h"

#include <algorithm>

#include "autograd/ops_basic.h"
#include "autograd/ops_pose.h"
#include "pose/models/config_reader.h"
#include "tensor/error.h"

namespace wb::pose {

int64_t HRNetConfig::branch_width(int b) const {
  return branch_widths.empty() ? width << b : branch_widths.at(static_cast<size_t>(b));
}

std::vector<int64_t> HRNetConfig::branch_channels(int stage) const {
  std::vector<int64_t> c;
  for (int b = 0; b < stage; ++b) c.push_back(branch_width(b));
  return c;
}

int64_t HRNetConfig::out_channels() const {
  if (!v2()) return branch_width(0);
  int64_t c = 0;
  for (int b = 0; b < 4; ++b) c += branch_width(b);
  return c;
}

int64_t HRNetConfig::feature_channels(int stage) const {
  check(stage >= 0 && stage <= 4, "HRNet: feature stage ", stage, " is not 0-4");
  if (stage == 0) return stem_channels;
  if (stage == 1) return stage1_channels * expansion(BlockKind::Bottleneck);
  return branch_width(0);
}

void HRNetConfig::validate(const std::string& where) const {
  auto positive = [&](const char* field, int64_t v) {
    check(v > 0, where, ": field \"", field, "\" must be positive, got ", v);
  };
  positive("num_keypoints", num_keypoints);
  positive("input_size", std::min(input_size[0], input_size[1]));
  positive("width", width);
  positive("stem_channels", stem_channels);
  positive("stage1_blocks", stage1_blocks);
  positive("stage1_channels", stage1_channels);
  positive("num_modules", *std::min_element(num_modules.begin(), num_modules.end()));
  positive("num_blocks", *std::min_element(num_blocks.begin(), num_blocks.end()));
  check(branch_widths.empty() || branch_widths.size() == 4, where, ": field \"branch_widths\" must have 4 entries, got ",
        branch_widths.size());
  for (int64_t w : branch_widths) positive("branch_widths", w);
  positive("stage1_groups", stage1_groups);
  check(stage1_channels % stage1_groups == 0, where, ": field \"stage1_groups\" (", stage1_groups,
        ") must divide stage1_channels (", stage1_channels, ")");
  for (int b = 0; b < 4; ++b) {
    positive("branch_groups", branch_groups[b]);
    check(branch_width(b) % branch_groups[b] == 0, where, ": field \"branch_groups\" entry ", b, " (",
          branch_groups[b], ") must divide the branch width (", branch_width(b), ")");
  }
  check(head == "heatmap" || head == "v2", where, ": field \"head\" must be \"heatmap\" or \"v2\", got \"", head,
        "\"");
  check(upsample == "nearest" || upsample == "bilinear", where,
        ": field \"upsample\" must be \"nearest\" or \"bilinear\", got \"", upsample, "\"");
}

HRNetConfig hrnet_config_from_json(const nlohmann::json& j, const std::string& where) {
  ConfigReader r(j, where);
  std::string type = "hrnet";
  r.get("type", type);
  if (type != "hrnet") r.fail_field("type", "expected \"hrnet\", got \"" + type + "\"");
  HRNetConfig c;
  r.get("num_keypoints", c.num_keypoints);
  r.get("input_size", c.input_size);
  r.get("width", c.width);
  r.get("stem_channels", c.stem_channels);
  r.get("stage1_blocks", c.stage1_blocks);
  r.get("stage1_channels", c.stage1_channels);
  r.get("num_modules", c.num_modules);
  r.get("num_blocks", c.num_blocks);
  r.get("head", c.head);
  r.get("upsample", c.upsample);
  r.get("stem", c.stem);
  r.get("branch_widths", c.branch_widths);
  r.get("stage1_groups", c.stage1_groups);
  r.get("branch_groups", c.branch_groups);
  r.finish();
  c.validate(where);
  return c;
}

nlohmann::json to_json(const HRNetConfig& c) {
  nlohmann::json j = {{"type", "hrnet"},           {"num_keypoints", c.num_keypoints},
          {"input_size", c.input_size}, {"width", c.width},
          {"stem_channels", c.stem_channels}, {"stage1_blocks", c.stage1_blocks},
          {"stage1_channels", c.stage1_channels}, {"num_modules", c.num_modules},
          {"num_blocks", c.num_blocks}, {"head", c.head}, {"stem", c.stem}};
  // The NAS fields and the upsampling only where they differ from the plain HRNet, so plain
  // configs (and the records that hold them) read and print as before.
  if (c.upsample != "nearest") j["upsample"] = c.upsample;
  if (!c.branch_widths.empty()) j["branch_widths"] = c.branch_widths;
  if (c.stage1_groups != 1) j["stage1_groups"] = c.stage1_groups;
  if (c.branch_groups != std::array<int64_t, 4>{1, 1, 1, 1}) j["branch_groups"] = c.branch_groups;
  return j;
}

namespace {

// conv -> BN -> (ReLU): the entries of transitions and fuse layers, named 0, 1, (2).
std::shared_ptr<nn::Sequential> conv_bn(int64_t cin, int64_t cout, int64_t kernel, int64_t stride, bool relu) {
  auto s = std::make_shared<nn::Sequential>();
  s->push_back(make_conv(cin, cout, kernel, stride));
  s->push_back(std::make_shared<nn::BatchNorm2d>(cout));
  if (relu) s->push_back(std::make_shared<nn::ReLU>());
  return s;
}

// From the branches `pre` to `cur`: a 3x3 conv where an existing branch changes width (absent
// where it does not), and for each new branch a chain of 3x3 s2 convs from the lowest-resolution
// input only (the official code; the paper sums all branches).
std::shared_ptr<ModuleList> make_transition(const std::vector<int64_t>& pre, const std::vector<int64_t>& cur) {
  auto t = std::make_shared<ModuleList>();
  const size_t n_pre = pre.size();
  for (size_t i = 0; i < cur.size(); ++i) {
    if (i < n_pre) {
      t->push_back(cur[i] == pre[i] ? nullptr : conv_bn(pre[i], cur[i], 3, 1, true));
      continue;
    }
    auto chain = std::make_shared<nn::Sequential>();
    for (size_t k = 0; k <= i - n_pre; ++k) {
      const int64_t cout = k == i - n_pre ? cur[i] : pre.back();
      chain->push_back(conv_bn(pre.back(), cout, 3, 2, true));
    }
    t->push_back(chain);
  }
  return t;
}

}  // namespace

HRModule::HRModule(const std::vector<int64_t>& channels, int64_t num_blocks, bool multiscale_output,
                   const std::vector<int64_t>& groups, Upsample::Mode upsample)
    : channels_(channels) {
  const size_t n = channels.size();
  branches = register_module("branches", std::make_shared<ModuleList>());
  for (size_t b = 0; b < n; ++b) {
    const int64_t g = b < groups.size() ? groups[b] : 1;
    branches->push_back(make_res_layer(BlockKind::Basic, channels[b], channels[b], num_blocks, 1, g));
  }
  fuse_layers = register_module("fuse_layers", std::make_shared<ModuleList>());
  for (size_t i = 0; i < (multiscale_output ? n : 1); ++i) {
    auto row = std::make_shared<ModuleList>();
    for (size_t j = 0; j < n; ++j) {
      if (j > i) {
        auto up = conv_bn(channels[j], channels[i], 1, 1, false);
        up->push_back(std::make_shared<Upsample>(int64_t{1} << (j - i), upsample));
        row->push_back(up);
      } else if (j == i) {
        row->push_back<nn::Module>(nullptr);
      } else {
        // i - j stride-2 convs: the intermediate ones keep branch j's width and end in ReLU,
        // the last maps to branch i's width, no ReLU (the ReLU follows the sum).
        auto chain = std::make_shared<nn::Sequential>();
        for (size_t k = 0; k < i - j; ++k) {
          const bool last = k == i - j - 1;
          chain->push_back(conv_bn(channels[j], last ? channels[i] : channels[j], 3, 2, !last));
        }
        row->push_back(chain);
      }
    }
    fuse_layers->push_back(row);
  }
}

std::vector<Tensor> HRModule::forward_branches(const std::vector<Tensor>& xs) {
  check(xs.size() == channels_.size(), "HRModule: expected ", channels_.size(), " inputs, got ", xs.size());
  std::vector<Tensor> b(xs.size());
  for (size_t i = 0; i < xs.size(); ++i) b[i] = (*branches->get(i))(xs[i]);
  std::vector<Tensor> out;
  for (size_t i = 0; i < fuse_layers->size(); ++i) {
    const auto* row = static_cast<const ModuleList*>(fuse_layers->get(i));
    Tensor y;
    for (size_t j = 0; j < b.size(); ++j) {
      const Tensor term = j == i ? b[j] : (*row->get(j))(b[j]);
      y = y.defined() ? ops::add(y, term) : term;
    }
    out.push_back(ops::relu(y));
  }
  return out;
}

HRNet::HRNet(const HRNetConfig& cfg) : cfg_(cfg) {
  cfg_.validate("HRNetConfig");
  if (cfg.stem) {
    conv1 = register_module("conv1", make_conv(3, cfg.stem_channels, 3, 2));
    bn1 = register_module("bn1", std::make_shared<nn::BatchNorm2d>(cfg.stem_channels));
    conv2 = register_module("conv2", make_conv(cfg.stem_channels, cfg.stem_channels, 3, 2));
    bn2 = register_module("bn2", std::make_shared<nn::BatchNorm2d>(cfg.stem_channels));
  }
  layer1 = register_module("layer1", make_res_layer(BlockKind::Bottleneck, cfg.stem_channels, cfg.stage1_channels,
                                                    cfg.stage1_blocks, 1, cfg.stage1_groups));
  std::vector<int64_t> pre{cfg.stage1_channels * expansion(BlockKind::Bottleneck)};
  const Upsample::Mode upsample = cfg.upsample == "bilinear" ? Upsample::Mode::Bilinear : Upsample::Mode::Nearest;
  for (int s = 0; s < 3; ++s) {
    const std::vector<int64_t> cur = cfg.branch_channels(s + 2);
    transitions[s] = register_module("transition" + std::to_string(s + 1), make_transition(pre, cur));
    stages[s] = register_module("stage" + std::to_string(s + 2), std::make_shared<nn::Sequential>());
    for (int64_t m = 0; m < cfg.num_modules[s]; ++m) {
      // Only the very last module may drop its lower outputs (V1 reads the top branch only).
      const bool last = s == 2 && m == cfg.num_modules[s] - 1;
      stages[s]->push_back(std::make_shared<HRModule>(
          cur, cfg.num_blocks[s], cfg.v2() || !last,
          std::vector<int64_t>(cfg.branch_groups.begin(), cfg.branch_groups.begin() + s + 2), upsample));
    }
    pre = cur;
  }
}

std::vector<Tensor> HRNet::forward_branches(const Tensor& x, FeatureTaps* taps) {
  Tensor y;
  if (cfg_.stem) {
    check(x.dim() == 4 && x.size(1) == 3 && x.size(2) % 32 == 0 && x.size(3) % 32 == 0, "HRNet: input ", x.str(),
          " must be [N, 3, H, W] with H and W divisible by 32 (the four branches halve it three times after the "
          "stride-4 stem)");
    y = conv1->forward_bn(*bn1, x, true);
    y = conv2->forward_bn(*bn2, y, true);
  } else {
    check(x.dim() == 4 && x.size(1) == cfg_.stem_channels && x.size(2) % 8 == 0 && x.size(3) % 8 == 0,
          "HRNet without stem: input ", x.str(), " must be [N, ", cfg_.stem_channels,
          ", H, W] with H and W divisible by 8 (the four branches halve it three times)");
    y = x;
  }
  if (taps) (*taps)[0] = y;
  std::vector<Tensor> xs{(*layer1)(y)};
  if (taps) (*taps)[1] = xs.front();
  for (int s = 0; s < 3; ++s) {
    std::vector<Tensor> ins;
    for (size_t i = 0; i < transitions[s]->size(); ++i) {
      const Tensor& src = xs[std::min(i, xs.size() - 1)];
      nn::Module* t = transitions[s]->get(i);
      ins.push_back(t ? (*t)(src) : src);
    }
    for (size_t m = 0; m < stages[s]->size(); ++m) {
      ins = static_cast<HRModule&>(*(*stages[s])[m]).forward_branches(ins);
    }
    xs = std::move(ins);
    if (taps) (*taps)[s + 2] = xs.front();
  }
  return xs;
}

Tensor HRNet::forward_tapped(const Tensor& x, FeatureTaps* taps) {
  std::vector<Tensor> feats = forward_branches(x, taps);
  return cfg_.v2() ? concat_resized(feats) : feats.front();
}

Tensor concat_resized(const std::vector<Tensor>& feats) {
  check(!feats.empty(), "concat_resized: no feature maps");
  std::vector<Tensor> parts{feats.front()};
  kernels::ResizeParams p;
  p.out_h = feats.front().size(2);
  p.out_w = feats.front().size(3);
  p.align_corners = false;
  for (size_t i = 1; i < feats.size(); ++i) parts.push_back(ops::resize_bilinear(feats[i], p));
  return ops::concat(parts, 1);
}

}  // namespace wb::pose
