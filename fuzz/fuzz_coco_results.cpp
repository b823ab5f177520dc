// Fuzz target: the COCO (-WholeBody) keypoint results reader, parse_keypoint_results (datasets/coco.h).
// Property: what keypoint_results_json makes of results that read cleanly reads back to the same.
//
// fuzz-instrument: datasets/coco.cpp
#include "datasets/coco.h"
#include "fuzz/common.h"

using namespace wb::data;

namespace {

bool same(const KeypointResult& a, const KeypointResult& b) {
  const bool boxes = a.bbox.has_value() == b.bbox.has_value() &&
                     (!a.bbox || (a.bbox->x == b.bbox->x && a.bbox->y == b.bbox->y && a.bbox->w == b.bbox->w &&
                                  a.bbox->h == b.bbox->h));
  return a.image_id == b.image_id && a.category_id == b.category_id && a.keypoints == b.keypoints &&
         a.score == b.score && a.part_scores == b.part_scores && boxes;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::vector<KeypointResult> results;
  if (!wb::fuzz::expect_clean_errors(
          [&] { results = parse_keypoint_results(wb::fuzz::as_text(data, size), "fuzz.json"); }))
    return 0;
  std::string text;
  try {
    text = keypoint_results_json(results);
  } catch (const std::exception& e) {
    wb::fuzz::property_failed(std::string("keypoint_results_json rejects results that read cleanly: ") + e.what());
  }
  try {
    const std::vector<KeypointResult> again = parse_keypoint_results(text, "written.json");
    bool equal = again.size() == results.size();
    for (size_t i = 0; equal && i < results.size(); ++i) equal = same(again[i], results[i]);
    wb::fuzz::require(equal, "keypoint_results_json: the written results read back different");
  } catch (const std::exception& e) {
    wb::fuzz::property_failed(std::string("the written results do not read back: ") + e.what());
  }
  return 0;
}
