#include "tasks/validation.h"

#include <algorithm>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "datasets/coco.h"
#include "datasets/topdown.h"
#include "pose/keypoints.h"
#include "tasks/model_spec.h"
#include "tasks/topdown_predictor.h"
#include "tensor/error.h"

namespace wb::tasks {

namespace fs = std::filesystem;

struct Validator::Data {
  data::CocoKeypointsFile gt;
  std::vector<data::PersonInstance> instances;
  const pose::KeypointSet* keypoints = nullptr;
  std::vector<std::string> parts;
  EvalConfig eval;
  double box_padding = 1.25;
  Device device;
  dist::Communicator* comm = nullptr;
  std::map<int64_t, size_t> image_order;       // image id -> its index in first-appearance order
  std::vector<data::PersonInstance> my_share;  // a data-parallel rank's instances
};

Validator::Validator(const DataConfig& d, const EvalConfig& eval, double box_padding, Device device,
                     dist::Communicator* comm) {
  const fs::path root(d.root);
  const std::string ann = (root / d.val_annotations).string();
  check(fs::is_regular_file(ann), ann, ": no validation annotations here (data root \"", d.root,
        "\", field data.val_annotations)");
  auto v = std::make_shared<Data>();
  v->gt = data::read_coco_keypoints(ann);
  const std::string images = (root / d.val_images).string();
  if (d.val_boxes == "gt") {
    v->instances = data::instances_from_gt_boxes(v->gt, images);
  } else {
    const std::string boxes = (root / d.val_boxes).string();
    v->instances = data::instances_from_boxes(data::read_person_boxes(boxes), v->gt, images);
  }
  check(!v->instances.empty(), ann, ": no person box to validate on (data.val_boxes \"", d.val_boxes, "\")");
  // Grouped by image, so that each image is read once.
  std::stable_sort(v->instances.begin(), v->instances.end(),
                   [](const data::PersonInstance& a, const data::PersonInstance& b) { return a.image_id < b.image_id; });

  const bool wholebody = v->gt.format == data::KeypointFormat::coco_wholebody;
  v->keypoints = wholebody ? &pose::coco_wholebody() : &pose::coco_body();
  v->parts = wholebody ? std::vector<std::string>{"body", "foot", "face", "lefthand", "righthand", "wholebody"}
                       : std::vector<std::string>{"body"};
  v->eval = eval;
  v->box_padding = box_padding;
  v->device = device;
  if (comm && comm->size() > 1) {
    v->comm = comm;
    for (const data::PersonInstance& inst : v->instances) {
      const size_t image = v->image_order.emplace(inst.image_id, v->image_order.size()).first->second;
      if (static_cast<int>(image % static_cast<size_t>(comm->size())) == comm->rank()) v->my_share.push_back(inst);
    }
  }
  data_ = std::move(v);
}

EvalRows Validator::operator()(nn::Module& model, const PoseFamily& family, const pose::HeatmapCodec& codec) const {
  const Data& v = *data_;
  PredictOptions p = predict_options_for(codec, *v.keypoints, v.eval.flip_test, &family);
  p.device = v.device;
  p.batch_size = static_cast<int>(v.eval.batch_size);
  p.box_padding = v.box_padding;
  if (!v.comm) return evaluate(model, p, v.gt, v.instances, v.parts);
  // Rescoring and NMS are per image, so each rank's share is final; rank 0 puts the poses back in
  // the one-process order (images in first appearance, each image's poses as predict() left them).
  const std::string mine = data::keypoint_results_json(predict(model, p, v.my_share));
  const std::vector<std::string> all = v.comm->gather(mine, 0);
  if (v.comm->rank() != 0) return {};
  std::vector<data::KeypointResult> results;
  for (size_t r = 0; r < all.size(); ++r) {
    for (auto& k : data::parse_keypoint_results(all[r], "validation results of rank " + std::to_string(r))) {
      results.push_back(std::move(k));
    }
  }
  std::stable_sort(results.begin(), results.end(), [&](const data::KeypointResult& a, const data::KeypointResult& b) {
    return v.image_order.at(a.image_id) < v.image_order.at(b.image_id);
  });
  return data::evaluate_wholebody(v.gt, results, v.parts);
}

EvalFn make_validation(const TrainConfig& c, Device device, dist::Communicator* comm) {
  const Validator validator(c.data, c.eval, c.topdown.box_padding, device, comm);
  const pose::HeatmapCodec codec = c.topdown.codec;
  const PoseFamily* family = c.family;
  return [validator, family, codec](nn::Module& model) { return validator(model, *family, codec); };
}

}  // namespace wb::tasks
