#include "pose/models/zoomnet.h"

#include <algorithm>

#include "autograd/ops_pose.h"
#include "pose/models/config_reader.h"
#include "pose/models/factory.h"
#include "tensor/error.h"

namespace wb::pose {

namespace {

// HRNetV2-W18 without its stem, after a 64 -> 64 adapter: the head whose FLOPs come out at the
// paper's 4.19 (68 heatmaps) and 4.14 (21) on a 64x64 RoI of the stage-0 features (docs/zoomnet.md).
HRNetConfig default_head(int64_t keypoints) {
  HRNetConfig h;
  h.num_keypoints = keypoints;
  h.input_size = {64, 64};
  h.width = 18;
  h.head = "v2";
  h.stem = false;
  return h;
}

std::shared_ptr<HeatmapHead> make_head(const HRNetConfig& c) {
  HeatmapHeadOptions h;
  h.in_channels = c.out_channels();
  h.num_keypoints = c.num_keypoints;
  if (c.v2()) h.conv_channels = {c.out_channels()};  // HRNetV2's 1x1 conv + BN + ReLU before the final layer
  return std::make_shared<HeatmapHead>(h);
}

// An HRNet sub-config: the given fields over the defaults `base`.
HRNetConfig hrnet_over(const HRNetConfig& base, const nlohmann::json& fields, const std::string& where) {
  nlohmann::json merged = to_json(base);
  for (const auto& [key, value] : fields.items()) merged[key] = value;
  return hrnet_config_from_json(merged, where);
}

ZoomHeadConfig head_over(const ZoomHeadConfig& base, const nlohmann::json& j, const std::string& where) {
  ZoomHeadConfig h = base;
  ConfigReader r(j, where);
  r.get("feature_stage", h.feature_stage);
  r.get("roi_expansion", h.roi_expansion);
  nlohmann::json net = nlohmann::json::object();
  for (const auto& [key, value] : j.items()) {
    if (key != "feature_stage" && key != "roi_expansion") net[key] = value;
  }
  h.net = hrnet_over(base.net, net, where);
  return h;
}

// RoIAlign's [K, 5] rows (batch index, x1, y1, x2, y2): person by person, `parts` in order.
Tensor rois_tensor(const std::vector<ZoomRois>& rois, const std::vector<ZoomPart>& parts, DType dtype,
                   Device device) {
  std::vector<double> rows;
  for (size_t n = 0; n < rois.size(); ++n) {
    for (ZoomPart p : parts) {
      const RoiBox& b = rois[n][p];
      rows.insert(rows.end(), {static_cast<double>(n), b.x1, b.y1, b.x2, b.y2});
    }
  }
  return Tensor::from_vector(rows, {static_cast<int64_t>(rows.size() / 5), 5}, dtype, device);
}

}  // namespace

ZoomNetConfig::ZoomNetConfig() {
  body.num_keypoints = kZoomBodyChannels;
  body.input_size = {384, 288};
  face_head.net = default_head(part_size(ZoomPart::Face));
  hand_head.net = default_head(part_size(ZoomPart::LeftHand));
}

void ZoomNetConfig::validate(const std::string& where) const {
  body.validate(where + ": body");
  check(body.num_keypoints == kZoomBodyChannels, where, ": field \"body.num_keypoints\" must be ", kZoomBodyChannels,
        " (17 body, 6 foot, 15 box keypoints), got ", body.num_keypoints);
  check(body.stem, where, ": field \"body.stem\" must be true (BodyNet reads images)");
  auto head = [&](const ZoomHeadConfig& h, const char* name, int64_t keypoints) {
    const std::string f = std::string(name) + ".";
    h.net.validate(where + ": " + name);
    check(h.net.num_keypoints == keypoints, where, ": field \"", f, "num_keypoints\" must be ", keypoints, ", got ",
          h.net.num_keypoints);
    check(!h.net.stem, where, ": field \"", f, "stem\" must be false (the heads read BodyNet features)");
    check(h.net.input_size[0] == h.net.input_size[1] && h.net.input_size[0] % 8 == 0, where, ": field \"", f,
          "input_size\" must be square and divisible by 8 (the RoIs are square; four branches), got ",
          h.net.input_size[0], "x", h.net.input_size[1]);
    check(h.feature_stage >= 0 && h.feature_stage <= 4, where, ": field \"", f, "feature_stage\" must be 0-4, got ",
          h.feature_stage);
    check(h.roi_expansion > 0, where, ": field \"", f, "roi_expansion\" must be positive, got ", h.roi_expansion);
  };
  head(face_head, "face_head", part_size(ZoomPart::Face));
  head(hand_head, "hand_head", part_size(ZoomPart::LeftHand));
  check(sigma > 0, where, ": field \"sigma\" must be positive, got ", sigma);
  check(min_roi_side >= body.stride(), where, ": field \"min_roi_side\" must be at least the BodyNet stride ",
        body.stride(), " (RoIAlign keeps RoIs at least one feature pixel wide), got ", min_roi_side);
}

ZoomNetConfig zoomnet_config_from_json(const nlohmann::json& j, const std::string& where) {
  ZoomNetConfig c;
  ConfigReader r(j, where);
  std::string type = "zoomnet";
  r.get("type", type);
  if (type != "zoomnet") r.fail_field("type", "expected \"zoomnet\", got \"" + type + "\"");
  nlohmann::json body = nlohmann::json::object(), face = body, hand = body;
  r.get("body", body);
  r.get("face_head", face);
  r.get("hand_head", hand);
  r.get("sigma", c.sigma);
  r.get("min_roi_side", c.min_roi_side);
  r.finish();
  c.body = hrnet_over(c.body, body, where + ": body");
  c.face_head = head_over(c.face_head, face, where + ": face_head");
  c.hand_head = head_over(c.hand_head, hand, where + ": hand_head");
  c.validate(where);
  return c;
}

nlohmann::json to_json(const ZoomNetConfig& c) {
  auto head = [](const ZoomHeadConfig& h) {
    nlohmann::json j = to_json(h.net);
    j["feature_stage"] = h.feature_stage;
    j["roi_expansion"] = h.roi_expansion;
    return j;
  };
  return {{"type", "zoomnet"},           {"body", to_json(c.body)}, {"face_head", head(c.face_head)},
          {"hand_head", head(c.hand_head)}, {"sigma", c.sigma},       {"min_roi_side", c.min_roi_side}};
}

ZoomHead::ZoomHead(int64_t in_channels, const HRNetConfig& net) {
  adapter = register_module("adapter", std::make_shared<nn::Sequential>());
  adapter->push_back(make_conv(in_channels, net.stem_channels, 1));
  adapter->push_back(std::make_shared<nn::BatchNorm2d>(net.stem_channels));
  adapter->push_back(std::make_shared<nn::ReLU>());
  backbone = register_module("backbone", std::make_shared<HRNet>(net));
  head = register_module("head", make_head(net));
}

Tensor ZoomHead::forward(const Tensor& x) { return (*head)((*backbone)((*adapter)(x))); }

ZoomNet::ZoomNet(const ZoomNetConfig& cfg) : cfg_(cfg) {
  cfg_.validate("ZoomNetConfig");
  auto net = std::make_shared<HRNet>(cfg.body);
  body_net_ = net.get();
  body = register_module("body", std::make_shared<TopDownModel>(net, make_head(cfg.body), cfg.body.num_keypoints,
                                                                cfg.body.input_size, BackboneInit::Normal001));
  auto head = [&](const ZoomHeadConfig& h) {
    return std::make_shared<ZoomHead>(cfg.body.feature_channels(static_cast<int>(h.feature_stage)), h.net);
  };
  face_head = register_module("face_head", head(cfg.face_head));
  hand_head = register_module("hand_head", head(cfg.hand_head));
}

HeatmapCodec zoom_body_codec(const ZoomNetConfig& cfg) {
  HeatmapCodec c;
  c.encoding = HeatmapEncoding::Msra;
  c.input_h = static_cast<int>(cfg.body.input_size[0]);
  c.input_w = static_cast<int>(cfg.body.input_size[1]);
  c.heatmap_h = c.input_h / static_cast<int>(cfg.body.stride());
  c.heatmap_w = c.input_w / static_cast<int>(cfg.body.stride());
  c.sigma = cfg.sigma;
  return c;
}

int zoom_head_size(const ZoomNetConfig& c, ZoomPart part) {
  const ZoomHeadConfig& h = part == ZoomPart::Face ? c.face_head : c.hand_head;
  return static_cast<int>(h.net.input_size[0]);
}

std::vector<std::array<RoiBox, kZoomParts>> decode_zoom_boxes(const ZoomNetConfig& c, const Tensor& body_heatmaps) {
  check(body_heatmaps.dim() == 4 && body_heatmaps.size(1) == kZoomBodyChannels, "ZoomNet: body heatmaps ",
        body_heatmaps.str(), " must be [N, ", kZoomBodyChannels, ", h, w]");
  const Tensor boxes = body_heatmaps.detach()
                           .narrow(1, kZoomBodyKeypoints, kZoomParts * kZoomBoxPoints)
                           .to(Device::cpu())
                           .to(DType::F32)
                           .contiguous();
  const HeatmapCodec codec = zoom_body_codec(c);
  std::vector<std::array<RoiBox, kZoomParts>> out;
  for (int64_t n = 0; n < boxes.size(0); ++n) {
    const std::vector<DecodedKeypoint> k = decode_heatmaps(codec, boxes.select(0, n));
    std::array<RoiBox, kZoomParts> b;
    for (int p = 0; p < kZoomParts; ++p) {
      std::vector<Point2> pts;
      for (int i = 0; i < kZoomBoxPoints; ++i) pts.push_back(k[p * kZoomBoxPoints + i].xy);
      b[p] = box_from_points(pts);
    }
    out.push_back(b);
  }
  return out;
}

ZoomRois zoom_rois_from_boxes(const ZoomNetConfig& c, const std::array<RoiBox, kZoomParts>& boxes) {
  const double max_side = static_cast<double>(std::max(c.body.input_size[0], c.body.input_size[1]));
  ZoomRois r;
  for (int p = 0; p < kZoomParts; ++p) {
    const ZoomHeadConfig& h = p == 0 ? c.face_head : c.hand_head;
    r.roi[p] = make_roi(boxes[p], h.roi_expansion, c.min_roi_side, std::max(max_side, c.min_roi_side));
  }
  return r;
}

std::vector<ZoomRois> decode_zoom_rois(const ZoomNetConfig& c, const Tensor& body_heatmaps) {
  std::vector<ZoomRois> out;
  for (const auto& b : decode_zoom_boxes(c, body_heatmaps)) out.push_back(zoom_rois_from_boxes(c, b));
  return out;
}

Tensor crop_zoom_rois(const Tensor& features, const std::vector<ZoomRois>& rois, const std::vector<ZoomPart>& parts,
                      int out, double stride) {
  const kernels::RoIAlignParams p = zoom_roi_align_params(out, stride);
  return ops::roi_align(features, rois_tensor(rois, parts, features.dtype(), features.device()), p);
}

HeatmapCodec ZoomNet::body_codec() const { return zoom_body_codec(cfg_); }

int ZoomNet::head_size(ZoomPart part) const { return zoom_head_size(cfg_, part); }

std::vector<std::array<RoiBox, kZoomParts>> ZoomNet::decode_boxes(const Tensor& body_heatmaps) const {
  return decode_zoom_boxes(cfg_, body_heatmaps);
}

ZoomRois ZoomNet::rois_from_boxes(const std::array<RoiBox, kZoomParts>& boxes) const {
  return zoom_rois_from_boxes(cfg_, boxes);
}

std::vector<ZoomRois> ZoomNet::decode_rois(const Tensor& body_heatmaps) const {
  return decode_zoom_rois(cfg_, body_heatmaps);
}

ZoomOutputs ZoomNet::run(const Tensor& images, const std::vector<ZoomRois>* rois) {
  ZoomOutputs o;
  HRNet::FeatureTaps taps;
  o.body = (*body->head)(body_net_->forward_tapped(images, &taps));
  if (rois) {
    check(static_cast<int64_t>(rois->size()) == images.size(0), "ZoomNet: ", rois->size(), " RoI sets for ",
          images.size(0), " images");
    o.rois = *rois;
  } else {
    o.rois = decode_rois(o.body);
  }
  auto crop = [&](const ZoomHeadConfig& h, const std::vector<ZoomPart>& parts) {
    return crop_zoom_rois(taps[static_cast<size_t>(h.feature_stage)], o.rois, parts,
                          static_cast<int>(h.net.input_size[0]), body_stride());
  };
  o.face = (*face_head)(crop(cfg_.face_head, {ZoomPart::Face}));
  o.hands = (*hand_head)(crop(cfg_.hand_head, {ZoomPart::LeftHand, ZoomPart::RightHand}));
  return o;
}

Tensor ZoomNet::forward(const Tensor& images) { return run(images).body; }

void ZoomNet::init_weights(Generator& gen) {
  body->init_weights(gen);
  init_module_weights(*face_head, gen, BackboneInit::Normal001);
  init_module_weights(*hand_head, gen, BackboneInit::Normal001);
}

std::shared_ptr<ZoomNet> build_zoomnet(const nlohmann::json& config, const std::string& where) {
  return std::make_shared<ZoomNet>(zoomnet_config_from_json(config, where));
}

std::shared_ptr<ZoomNet> build_zoomnet_from_file(const std::string& path) {
  return build_zoomnet(read_json_file(path), path);
}

}  // namespace wb::pose
