#include "tasks/validation.h"

#include <algorithm>
#include <filesystem>
#include <memory>

#include "datasets/coco.h"
#include "datasets/topdown.h"
#include "tasks/model_spec.h"
#include "tasks/topdown_predictor.h"
#include "tensor/error.h"

namespace wb::tasks {

namespace fs = std::filesystem;

namespace {

struct ValidationData {
  data::CocoKeypointsFile gt;
  std::vector<data::PersonInstance> instances;
  PredictOptions predict;
  std::vector<std::string> parts;
};

}  // namespace

EvalFn make_validation(const TrainConfig& c, Device device) {
  const fs::path root(c.data.root);
  const std::string ann = (root / c.data.val_annotations).string();
  check(fs::is_regular_file(ann), ann, ": no validation annotations here (data root \"", c.data.root,
        "\", field data.val_annotations)");
  auto v = std::make_shared<ValidationData>();
  v->gt = data::read_coco_keypoints(ann);
  const std::string images = (root / c.data.val_images).string();
  if (c.data.val_boxes == "gt") {
    v->instances = data::instances_from_gt_boxes(v->gt, images);
  } else {
    const std::string boxes = (root / c.data.val_boxes).string();
    v->instances = data::instances_from_boxes(data::read_person_boxes(boxes), v->gt, images);
  }
  check(!v->instances.empty(), ann, ": no person box to validate on (data.val_boxes \"", c.data.val_boxes, "\")");
  // Grouped by image, so that each image is read once.
  std::stable_sort(v->instances.begin(), v->instances.end(),
                   [](const data::PersonInstance& a, const data::PersonInstance& b) { return a.image_id < b.image_id; });

  const bool wholebody = v->gt.format == data::KeypointFormat::coco_wholebody;
  PredictOptions& p = v->predict;
  p = predict_options_for(c.topdown.codec, keypoint_set_for(wholebody ? 133 : 17, ann), c.eval.flip_test);
  p.device = device;
  p.batch_size = static_cast<int>(c.eval.batch_size);
  p.box_padding = c.topdown.box_padding;
  v->parts = wholebody ? std::vector<std::string>{"body", "foot", "face", "lefthand", "righthand", "wholebody"}
                       : std::vector<std::string>{"body"};
  return [v](nn::Module& model) { return evaluate(model, v->predict, v->gt, v->instances, v->parts); };
}

}  // namespace wb::tasks
