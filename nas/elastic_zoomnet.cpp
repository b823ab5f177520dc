#include "nas/elastic_zoomnet.h"

#include <string>

#include "autograd/engine.h"
#include "autograd/node.h"
#include "autograd/ops_basic.h"
#include "autograd/ops_pose.h"
#include "nas/elastic_walker.h"
#include "pose/models/blocks.h"
#include "tensor/error.h"

namespace wb::nas {

namespace {

const char* head_name(pose::ZoomPart part) { return part == pose::ZoomPart::Face ? "face_head" : "hand_head"; }

}  // namespace

// The largest ZoomNet's modules under their plain names (body, face_head, hand_head: the largest
// sub-network loads into a plain pose::ZoomNet as is), plus, per head, one adapter for each other
// feature-stage choice: face_adapters.<stage>, hand_adapters.<stage> (a head's own adapter serves
// the largest's stage). Each adapter reads the widest that stage can be and maps it to the head's
// stem_channels, like the plain ZoomHead's adapter.
class ZoomSupernet : public nn::Module {
 public:
  ZoomSupernet(const ZoomNasSpace& space, const pose::ZoomNetConfig& largest) {
    pose::ZoomNet plain(largest);  // only its modules are kept
    body = register_module("body", plain.body);
    face_head = register_module("face_head", plain.face_head);
    hand_head = register_module("hand_head", plain.hand_head);
    face_adapters = register_module("face_adapters", adapters(space.face, largest.face_head, largest.body));
    hand_adapters = register_module("hand_adapters", adapters(space.hand, largest.hand_head, largest.body));
  }
  std::string type_name() const override { return "ElasticZoomNet"; }

  pose::HRNet& body_net() { return static_cast<pose::HRNet&>(*body->backbone); }
  pose::ZoomHead& head(pose::ZoomPart part) { return part == pose::ZoomPart::Face ? *face_head : *hand_head; }
  // The adapter of `part`'s head for feature stage `stage` (one of the space's choices).
  nn::Sequential& adapter(pose::ZoomPart part, int64_t stage) {
    pose::ZoomHead& h = head(part);
    const pose::ModuleList& extra = part == pose::ZoomPart::Face ? *face_adapters : *hand_adapters;
    if (static_cast<size_t>(stage) < extra.size() && extra.get(static_cast<size_t>(stage))) {
      return static_cast<nn::Sequential&>(*extra.get(static_cast<size_t>(stage)));
    }
    return *h.adapter;
  }

  std::shared_ptr<pose::TopDownModel> body;
  std::shared_ptr<pose::ZoomHead> face_head, hand_head;
  std::shared_ptr<pose::ModuleList> face_adapters, hand_adapters;

 private:
  static std::shared_ptr<pose::ModuleList> adapters(const HeadSpace& hs, const pose::ZoomHeadConfig& largest,
                                                    const pose::HRNetConfig& body) {
    auto list = std::make_shared<pose::ModuleList>();
    for (int stage = 0; stage <= 4; ++stage) {
      bool chosen = false;
      for (int64_t s : hs.feature_stages) chosen = chosen || s == stage;
      std::shared_ptr<nn::Sequential> a;
      if (chosen && stage != largest.feature_stage) {
        a = std::make_shared<nn::Sequential>();
        a->push_back(pose::make_conv(body.feature_channels(stage), largest.net.stem_channels, 1));
        a->push_back(std::make_shared<nn::BatchNorm2d>(largest.net.stem_channels));
        a->push_back(std::make_shared<nn::ReLU>());
      }
      list->push_back(a);
    }
    return list;
  }
};

ElasticZoomNet::ElasticZoomNet(const ZoomNasSpace& space, const pose::ZoomNetConfig& base) : space_(space) {
  space_.validate("ZoomNAS space");
  Generator unused;  // Pick::Largest draws nothing
  largest_ = sample_zoomnet(space_, base, Pick::Largest, unused);
  largest_.validate("the largest sub-network");
  module_ = std::make_shared<ZoomSupernet>(space_, largest_);
}

ElasticZoomNet::~ElasticZoomNet() = default;

nn::Module& ElasticZoomNet::module() { return *module_; }

void ElasticZoomNet::init_weights(Generator& gen) {
  // pose::ZoomNet::init_weights' order first: the largest's weights equal a plain ZoomNet's drawn
  // from the same seed; then the extra adapters.
  module_->body->init_weights(gen);
  pose::init_module_weights(*module_->face_head, gen, pose::BackboneInit::Normal001);
  pose::init_module_weights(*module_->hand_head, gen, pose::BackboneInit::Normal001);
  pose::init_module_weights(*module_->face_adapters, gen, pose::BackboneInit::Normal001);
  pose::init_module_weights(*module_->hand_adapters, gen, pose::BackboneInit::Normal001);
}

void ElasticZoomNet::check_fits(const pose::ZoomNetConfig& a) const {
  a.validate("sub-network");
  check_sub_hrnet(a.body, largest_.body, "body.");
  auto head = [&](const pose::ZoomHeadConfig& h, const pose::ZoomHeadConfig& s, const HeadSpace& hs,
                  const char* name) {
    check_sub_hrnet(h.net, s.net, std::string(name) + ".");
    bool chosen = false;
    for (int64_t c : hs.feature_stages) chosen = chosen || c == h.feature_stage;
    check(chosen, "sub-network: field \"", name, ".feature_stage\" is ", h.feature_stage,
          ", the supernet has adapters for the space's choices only");
  };
  head(a.face_head, largest_.face_head, space_.face, "face_head");
  head(a.hand_head, largest_.hand_head, space_.hand, "hand_head");
}

pose::ZoomOutputs ElasticZoomNet::walk(const Tensor& images, const pose::ZoomNetConfig& active,
                                       const std::vector<pose::ZoomRois>* rois, bool training, TensorMap* record) {
  check_fits(active);
  check(images.dim() == 4 && images.size(1) == 3 && images.size(2) == active.body.input_size[0] &&
            images.size(3) == active.body.input_size[1],
        "ElasticZoomNet: images ", images.str(), " must be [N, 3, ", active.body.input_size[0], ", ",
        active.body.input_size[1], "] (the sub-network's body.input_size)");
  ZoomSupernet& m = *module_;
  // Names for recording: the plain ZoomNet's, with the active stage's adapter named as the head's own.
  ModuleNames names;
  if (record) {
    for (auto& [name, mod] : m.named_modules()) names[mod] = name;
    for (pose::ZoomPart part : {pose::ZoomPart::Face, pose::ZoomPart::LeftHand}) {
      const int64_t stage = (part == pose::ZoomPart::Face ? active.face_head : active.hand_head).feature_stage;
      nn::Sequential& a = m.adapter(part, stage);
      names[a[0].get()] = std::string(head_name(part)) + ".adapter.0";
      names[a[1].get()] = std::string(head_name(part)) + ".adapter.1";
    }
  }
  const ModuleNames* names_ptr = record ? &names : nullptr;

  pose::ZoomOutputs o;
  pose::HRNet::FeatureTaps taps;
  ElasticWalker body(active.body, training, names_ptr, record);
  o.body = body.head(*m.body->head, body.net(m.body_net(), images, &taps), m.body_net());
  if (rois) {
    check(static_cast<int64_t>(rois->size()) == images.size(0), "ElasticZoomNet: ", rois->size(), " RoI sets for ",
          images.size(0), " images");
    o.rois = *rois;
  } else {
    o.rois = pose::decode_zoom_rois(active, o.body);
  }
  const double stride = static_cast<double>(active.body.stride());
  auto run_head = [&](pose::ZoomPart part, const pose::ZoomHeadConfig& h, const std::vector<pose::ZoomPart>& parts) {
    Tensor x = pose::crop_zoom_rois(taps[static_cast<size_t>(h.feature_stage)], o.rois, parts,
                                    static_cast<int>(h.net.input_size[0]), stride);
    ElasticWalker w(h.net, training, names_ptr, record);
    x = w.conv_bn(m.adapter(part, h.feature_stage), x, h.net.stem_channels);
    pose::ZoomHead& zh = m.head(part);
    return w.head(*zh.head, w.net(*zh.backbone, x), *zh.backbone);
  };
  o.face = run_head(pose::ZoomPart::Face, active.face_head, {pose::ZoomPart::Face});
  o.hands = run_head(pose::ZoomPart::LeftHand, active.hand_head, {pose::ZoomPart::LeftHand, pose::ZoomPart::RightHand});
  return o;
}

pose::ZoomOutputs ElasticZoomNet::run(const Tensor& images, const pose::ZoomNetConfig& active,
                                      const std::vector<pose::ZoomRois>* rois) {
  return walk(images, active, rois, module_->is_training(), nullptr);
}

std::shared_ptr<pose::ZoomNet> ElasticZoomNet::export_subnet(const pose::ZoomNetConfig& active) {
  TensorMap weights;
  {
    // One pass on a blank crop with fixed RoIs visits every weight the sub-network uses.
    autograd::NoGradGuard no_grad;
    const Tensor& w = module_->body->head->final_layer->weight;
    const Tensor x = Tensor::zeros({1, 3, active.body.input_size[0], active.body.input_size[1]}, w.dtype(), w.device());
    const double side = active.min_roi_side;
    pose::ZoomRois r;
    for (pose::RoiBox& b : r.roi) b = {0, 0, side, side};
    const std::vector<pose::ZoomRois> rois{r};
    walk(x, active, &rois, false, &weights);
  }
  const Tensor& like = module_->body->head->final_layer->weight;
  auto sub = std::make_shared<pose::ZoomNet>(active);
  sub->to(like.dtype());
  for (auto& [name, t] : weights) t = t.detach().cpu().clone();
  sub->load_state_dict(weights, true);  // strict: an error lists any weight the walk did not produce
  sub->to(like.device());
  sub->train(module_->is_training());
  return sub;
}

ResizedZoomBatch resize_zoom_batch(const pose::ZoomBatch& b, const std::vector<pose::ZoomRois>& rois, int64_t h,
                                   int64_t w) {
  check(b.images.defined() && b.images.dim() == 4, "resize_zoom_batch: images must be [N, 3, H, W]");
  const int64_t H = b.images.size(2), W = b.images.size(3);
  if (H == h && W == w) return {b, rois};
  pose::ZoomBatch r;
  {
    autograd::NoGradGuard no_grad;
    r.images = ops::resize_bilinear_to(b.images.detach(), h, w);
  }
  const double sx = static_cast<double>(w) / static_cast<double>(W), sy = static_cast<double>(h) / static_cast<double>(H);
  auto map = [&](pose::Point2 p) { return pose::Point2{(p.x + 0.5) * sx - 0.5, (p.y + 0.5) * sy - 0.5}; };
  r.keypoints = b.keypoints;
  for (auto& person : r.keypoints) {
    for (pose::Point2& k : person) k = map(k);
  }
  r.visible = b.visible;
  std::vector<pose::ZoomRois> mapped = rois;
  for (pose::ZoomRois& person : mapped) {
    for (pose::RoiBox& box : person.roi) {
      const pose::Point2 a = map({box.x1, box.y1}), c = map({box.x2, box.y2});
      box = {a.x, a.y, c.x, c.y};
    }
  }
  return {std::move(r), std::move(mapped)};
}

ZoomSandwichResult zoom_sandwich_backward(ElasticZoomNet& super, const pose::ZoomBatch& batch, Generator& gen,
                                          const ZoomSandwichOptions& options) {
  check(super.module().is_training(), "zoom_sandwich_backward: the supernet must be in training mode");
  check(options.random_subnets >= 0 && options.distill_weight >= 0, "zoom_sandwich_backward: random_subnets ",
        options.random_subnets, " and distill_weight ", options.distill_weight, " must be non-negative");
  const pose::ZoomNetConfig base = super.largest();
  ZoomSandwichResult out;
  out.configs.push_back(base);
  out.configs.push_back(sample_zoomnet(super.space(), base, Pick::Smallest, gen));
  for (int i = 0; i < options.random_subnets; ++i) {
    out.configs.push_back(sample_zoomnet(super.space(), base, Pick::Uniform, gen));
  }
  check(batch.images.defined() && batch.images.dim() == 4 && batch.images.size(2) == base.body.input_size[0] &&
            batch.images.size(3) == base.body.input_size[1],
        "zoom_sandwich_backward: images ", batch.images.defined() ? batch.images.str() : "undefined",
        " are not at the largest input size ", base.body.input_size[0], "x", base.body.input_size[1]);

  Tensor teacher;  // the largest's body heatmaps, detached
  for (size_t i = 0; i < out.configs.size(); ++i) {
    const pose::ZoomNetConfig& c = out.configs[i];
    const ResizedZoomBatch r = resize_zoom_batch(batch, options.fixed_rois, c.body.input_size[0], c.body.input_size[1]);
    const pose::ZoomOutputs o = super.run(r.batch.images, c, r.rois.empty() ? nullptr : &r.rois);
    const pose::ZoomLoss l = pose::zoomnet_loss(c, o, r.batch);
    Tensor loss = l.total;
    if (i == 0) {
      teacher = o.body.detach();
      out.largest_parts = {l.body.item(), l.face.item(), l.hand.item()};
    } else if (options.distill_weight > 0) {
      // Every channel, labelled or not: the teacher's heatmaps are soft labels everywhere.
      const Tensor t = ops::resize_bilinear_to(teacher, o.body.size(2), o.body.size(3));
      loss = ops::add(loss, ops::scale(ops::heatmap_mse_loss(o.body, t), options.distill_weight));
    }
    out.losses.push_back(loss.item());
    autograd::backward(loss);  // accumulates into the shared weights' grads
  }
  return out;
}

}  // namespace wb::nas
