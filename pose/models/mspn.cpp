#include "pose/models/mspn.h"

#include <algorithm>

#include "autograd/ops_basic.h"
#include "autograd/ops_pose.h"
#include "pose/models/config_reader.h"
#include "pose/models/heatmap_head.h"
#include "tensor/error.h"

namespace wb::pose {

void MSPNConfig::validate(const std::string& where) const {
  auto positive = [&](const char* field, int64_t v) {
    if (v <= 0) fail(where, ": field \"", field, "\": must be positive, got ", v);
  };
  positive("num_keypoints", num_keypoints);
  positive("num_stages", num_stages);
  positive("unit_channels", unit_channels);
  positive("res_top_channels", res_top_channels);
  for (int i = 0; i < 2; ++i) {
    positive("input_size", input_size[i]);
    positive("out_shape", out_shape[i]);
  }
  if (num_units < 2) fail(where, ": field \"num_units\": MSPN needs at least 2 units, got ", num_units);
  if (static_cast<int64_t>(num_blocks.size()) != num_units) {
    fail(where, ": field \"num_blocks\": expected one block count per unit (", num_units, "), got ",
         num_blocks.size());
  }
  for (int64_t b : num_blocks) positive("num_blocks", b);
}

MSPNConfig mspn_config_from_json(const nlohmann::json& j, const std::string& where) {
  ConfigReader r(j, where);
  std::string type = "mspn";
  r.get("type", type);
  if (type != "mspn") r.fail_field("type", "expected \"mspn\", got \"" + type + "\"");
  MSPNConfig c;
  r.get("num_keypoints", c.num_keypoints);
  r.get("input_size", c.input_size);
  c.out_shape = {c.input_size[0] / 4, c.input_size[1] / 4};
  r.get("out_shape", c.out_shape);
  r.get("num_stages", c.num_stages);
  r.get("num_units", c.num_units);
  r.get("num_blocks", c.num_blocks);
  r.get("unit_channels", c.unit_channels);
  r.get("res_top_channels", c.res_top_channels);
  r.finish();
  c.validate(where);
  return c;
}

nlohmann::json to_json(const MSPNConfig& c) {
  return {{"type", "mspn"},
          {"num_keypoints", c.num_keypoints},
          {"input_size", c.input_size},
          {"out_shape", c.out_shape},
          {"num_stages", c.num_stages},
          {"num_units", c.num_units},
          {"num_blocks", c.num_blocks},
          {"unit_channels", c.unit_channels},
          {"res_top_channels", c.res_top_channels}};
}

namespace {

std::shared_ptr<nn::ConvModule> conv_module(int64_t cin, int64_t cout, int64_t kernel, int64_t stride, bool relu) {
  nn::ConvModuleOptions o;
  o.conv.in_channels = cin;
  o.conv.out_channels = cout;
  o.conv.kernel = kernel;
  o.conv.stride = stride;
  o.conv.padding = kernel / 2;
  o.act = relu ? nn::Activation::ReLU : nn::Activation::None;
  return std::make_shared<nn::ConvModule>(o);
}

Tensor resize_to(const Tensor& x, int64_t h, int64_t w) {
  kernels::ResizeParams p;
  p.out_h = h;
  p.out_w = w;
  p.align_corners = true;
  return ops::resize_bilinear(x, p);
}

}  // namespace

MSPNDownsample::MSPNDownsample(const MSPNConfig& c, bool has_skip) : has_skip_(has_skip) {
  int64_t cin = c.res_top_channels;
  for (int64_t u = 0; u < c.num_units; ++u) {
    const int64_t planes = c.res_top_channels << u, cout = planes * 4, stride = u == 0 ? 1 : 2;
    // DownsampleModule._make_layer: the first block gets a ConvModule projection (no activation).
    std::shared_ptr<nn::ConvModule> proj;
    if (stride != 1 || cin != cout) proj = conv_module(cin, cout, 1, stride, false);
    auto layer = std::make_shared<nn::Sequential>();
    for (int64_t b = 0; b < c.num_blocks[static_cast<size_t>(u)]; ++b) {
      layer->push_back(std::make_shared<Bottleneck>(b == 0 ? cin : cout, planes, b == 0 ? stride : 1,
                                                    b == 0 ? proj : nullptr));
    }
    layers.push_back(register_module("layer" + std::to_string(u + 1), layer));
    cin = cout;
  }
}

std::vector<Tensor> MSPNDownsample::forward_units(const Tensor& x, const std::vector<Tensor>& skip1,
                                                  const std::vector<Tensor>& skip2) {
  std::vector<Tensor> out;
  Tensor y = x;
  for (size_t u = 0; u < layers.size(); ++u) {
    y = (*layers[u])(y);
    if (has_skip_) y = ops::add(ops::add(y, skip1.at(u)), skip2.at(u));
    out.push_back(y);
  }
  return {out.rbegin(), out.rend()};
}

MSPNUpsampleUnit::MSPNUpsampleUnit(int64_t ind, const MSPNConfig& c, int64_t in_channels, bool gen_skip,
                                   bool gen_cross_conv) {
  const int64_t uc = c.unit_channels;
  in_skip = register_module("in_skip", conv_module(in_channels, uc, 1, 1, false));
  if (ind > 0) up_conv = register_module("up_conv", conv_module(uc, uc, 1, 1, false));
  if (gen_skip) {
    out_skip1 = register_module("out_skip1", conv_module(in_channels, in_channels, 1, 1, true));
    out_skip2 = register_module("out_skip2", conv_module(uc, in_channels, 1, 1, true));
  }
  if (ind == c.num_units - 1 && gen_cross_conv) {
    cross_conv = register_module("cross_conv", conv_module(uc, c.res_top_channels, 1, 1, true));
  }
}

MSPNUpsample::MSPNUpsample(const MSPNConfig& c, bool gen_skip, bool gen_cross_conv) {
  for (int64_t u = 0; u < c.num_units; ++u) {
    const int64_t in_channels = c.down_channels(c.num_units - 1 - u);  // coarse to fine
    units.push_back(register_module("up" + std::to_string(u + 1),
                                    std::make_shared<MSPNUpsampleUnit>(u, c, in_channels, gen_skip, gen_cross_conv)));
  }
}

MSPNUpsample::Outputs MSPNUpsample::forward_units(const std::vector<Tensor>& down) {
  check(down.size() == units.size(), "UpsampleModule: ", down.size(), " features for ", units.size(), " units");
  Outputs o;
  for (size_t u = 0; u < units.size(); ++u) {
    MSPNUpsampleUnit& unit = *units[u];
    const Tensor& x = down[u];
    Tensor out = (*unit.in_skip)(x);
    if (unit.up_conv) {
      out = ops::add(out, (*unit.up_conv)(resize_to(o.features.back(), x.size(2), x.size(3))));
    }
    out = ops::relu(out);
    if (unit.out_skip1) {
      o.skip1.push_back((*unit.out_skip1)(x));
      o.skip2.push_back((*unit.out_skip2)(out));
    }
    if (unit.cross_conv) o.cross = (*unit.cross_conv)(out);
    o.features.push_back(out);
  }
  std::reverse(o.skip1.begin(), o.skip1.end());
  std::reverse(o.skip2.begin(), o.skip2.end());
  return o;
}

MSPNStage::MSPNStage(const MSPNConfig& c, bool has_skip, bool gen_skip_and_cross) {
  downsample = register_module("downsample", std::make_shared<MSPNDownsample>(c, has_skip));
  upsample = register_module("upsample", std::make_shared<MSPNUpsample>(c, gen_skip_and_cross, gen_skip_and_cross));
}

MSPNTop::MSPNTop(int64_t channels) {
  top = register_module("top", std::make_shared<nn::Sequential>());
  top->push_back(conv_module(3, channels, 7, 2, true));
  kernels::Pool2dParams pool;
  pool.kernel = {3, 3};
  pool.stride = {2, 2};
  pool.padding = {1, 1};
  top->push_back(std::make_shared<nn::MaxPool2d>(pool));
}

MSPNBackbone::MSPNBackbone(const MSPNConfig& c) {
  c.validate("MSPN");
  top = register_module("top", std::make_shared<MSPNTop>(c.res_top_channels));
  multi_stage_mspn = register_module("multi_stage_mspn", std::make_shared<ModuleList>());
  for (int64_t s = 0; s < c.num_stages; ++s) {
    stages.push_back(multi_stage_mspn->push_back(std::make_shared<MSPNStage>(c, s > 0, s + 1 < c.num_stages)));
  }
}

std::vector<std::vector<Tensor>> MSPNBackbone::forward_stages(const Tensor& x) {
  check(x.dim() == 4 && x.size(1) == 3, "MSPN: expected an image batch [N, 3, H, W], got ", x.str());
  std::vector<std::vector<Tensor>> out;
  Tensor y = (*top)(x);
  std::vector<Tensor> skip1, skip2;
  for (auto& stage : stages) {
    MSPNUpsample::Outputs o = stage->upsample->forward_units(stage->downsample->forward_units(y, skip1, skip2));
    out.push_back(std::move(o.features));
    skip1 = std::move(o.skip1);
    skip2 = std::move(o.skip2);
    y = o.cross;
  }
  return out;
}

MSPNPredictHeatmap::MSPNPredictHeatmap(const MSPNConfig& c) : out_shape_(c.out_shape) {
  conv_layers = register_module("conv_layers", std::make_shared<nn::Sequential>());
  conv_layers->push_back(conv_module(c.unit_channels, c.unit_channels, 1, 1, true));
  conv_layers->push_back(conv_module(c.unit_channels, c.num_keypoints, 3, 1, false));
}

Tensor MSPNPredictHeatmap::forward(const Tensor& x) {
  return resize_to((*conv_layers)(x), out_shape_[0], out_shape_[1]);
}

MSPNHead::MSPNHead(const MSPNConfig& c) : cfg_(c) {
  predict_layers = register_module("predict_layers", std::make_shared<ModuleList>());
  for (int64_t i = 0; i < c.num_outputs(); ++i) predict_layers->push_back(std::make_shared<MSPNPredictHeatmap>(c));
}

std::vector<Tensor> MSPNHead::forward_all(const std::vector<std::vector<Tensor>>& feats) {
  check(static_cast<int64_t>(feats.size()) == cfg_.num_stages, "MSPNHead: ", feats.size(), " stages of features for ",
        cfg_.num_stages, " stages");
  std::vector<Tensor> out;
  for (size_t s = 0; s < feats.size(); ++s) {
    check(static_cast<int64_t>(feats[s].size()) == cfg_.num_units, "MSPNHead: stage ", s, " has ", feats[s].size(),
          " unit features for ", cfg_.num_units, " units");
    for (size_t u = 0; u < feats[s].size(); ++u) {
      out.push_back((*predict_layers->get(s * feats[s].size() + u))(feats[s][u]));
    }
  }
  return out;
}

MSPN::MSPN(const MSPNConfig& c) : cfg_(c) {
  backbone = register_module("backbone", std::make_shared<MSPNBackbone>(c));
  head = register_module("head", std::make_shared<MSPNHead>(c));
}

std::vector<Tensor> MSPN::forward_all(const Tensor& x) { return head->forward_all(backbone->forward_stages(x)); }

Tensor MSPN::forward(const Tensor& x) {
  // Only the last predict layer: the other heads' outputs would be thrown away.
  return (*head->predict_layers->get(head->predict_layers->size() - 1))(backbone->forward_stages(x).back().back());
}

void MSPN::init_weights(Generator& gen) { init_module_weights(*this, gen, BackboneInit::KaimingNormal); }

}  // namespace wb::pose
