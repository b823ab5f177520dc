// Fuzz target: the COCO / COCO-WholeBody annotation reader, parse_coco_keypoints (datasets/coco.h).
// Property (coco.h): what the writer makes of a file that read cleanly reads back to the same file.
//
// fuzz-instrument: datasets/coco.cpp
#include "datasets/coco.h"
#include "fuzz/common.h"

using namespace wb::data;

namespace {

bool same(const Box& a, const Box& b) { return a.x == b.x && a.y == b.y && a.w == b.w && a.h == b.h; }

bool same(const PersonAnnotation& a, const PersonAnnotation& b) {
  return a.id == b.id && a.image_id == b.image_id && a.category_id == b.category_id && same(a.bbox, b.bbox) &&
         a.area == b.area && a.iscrowd == b.iscrowd && a.num_keypoints == b.num_keypoints &&
         a.keypoints == b.keypoints && a.segmentation_rle == b.segmentation_rle && same(a.face_box, b.face_box) &&
         same(a.lefthand_box, b.lefthand_box) && same(a.righthand_box, b.righthand_box) &&
         a.foot_valid == b.foot_valid && a.face_valid == b.face_valid && a.lefthand_valid == b.lefthand_valid &&
         a.righthand_valid == b.righthand_valid;
}

bool same(const CocoKeypointsFile& a, const CocoKeypointsFile& b) {
  if (a.format != b.format || a.images.size() != b.images.size() || a.categories.size() != b.categories.size() ||
      a.annotations.size() != b.annotations.size())
    return false;
  for (size_t i = 0; i < a.images.size(); ++i) {
    const CocoImage &x = a.images[i], &y = b.images[i];
    if (x.id != y.id || x.file_name != y.file_name || x.width != y.width || x.height != y.height) return false;
  }
  for (size_t i = 0; i < a.categories.size(); ++i) {
    if (a.categories[i].id != b.categories[i].id || a.categories[i].name != b.categories[i].name) return false;
  }
  for (size_t i = 0; i < a.annotations.size(); ++i) {
    if (!same(a.annotations[i], b.annotations[i])) return false;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  CocoKeypointsFile file;
  if (!wb::fuzz::expect_clean_errors([&] { file = parse_coco_keypoints(wb::fuzz::as_text(data, size), "fuzz.json"); }))
    return 0;
  const InstanceSelection sel = select_training_instances(file);
  wb::fuzz::require(sel.kept.size() + static_cast<size_t>(sel.skipped.total()) == file.annotations.size(),
                    "select_training_instances: kept + skipped != annotations");
  std::string text;
  try {
    text = coco_keypoints_json(file);
  } catch (const std::exception& e) {
    wb::fuzz::property_failed(std::string("coco_keypoints_json rejects a file that read cleanly: ") + e.what());
  }
  try {
    wb::fuzz::require(same(parse_coco_keypoints(text, "written.json"), file),
                      "coco_keypoints_json: the written file reads back different");
  } catch (const std::exception& e) {
    wb::fuzz::property_failed(std::string("the written annotations do not read back: ") + e.what());
  }
  return 0;
}
