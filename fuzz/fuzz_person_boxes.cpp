// Fuzz target: the detector person-box reader, parse_person_boxes (datasets/coco.h).
// Property: what person_boxes_json makes of boxes that read cleanly reads back to the same.
//
// fuzz-instrument: datasets/coco.cpp
#include "datasets/coco.h"
#include "fuzz/common.h"

using namespace wb::data;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::vector<PersonBox> boxes;
  if (!wb::fuzz::expect_clean_errors([&] { boxes = parse_person_boxes(wb::fuzz::as_text(data, size), "fuzz.json"); }))
    return 0;
  try {
    const std::vector<PersonBox> again = parse_person_boxes(person_boxes_json(boxes), "written.json");
    bool equal = again.size() == boxes.size();
    for (size_t i = 0; equal && i < boxes.size(); ++i) {
      const PersonBox &a = again[i], &b = boxes[i];
      equal = a.image_id == b.image_id && a.category_id == b.category_id && a.score == b.score &&
              a.bbox.x == b.bbox.x && a.bbox.y == b.bbox.y && a.bbox.w == b.bbox.w && a.bbox.h == b.bbox.h;
    }
    wb::fuzz::require(equal, "person_boxes_json: the written boxes read back different");
  } catch (const std::exception& e) {
    wb::fuzz::property_failed(std::string("the written boxes do not read back: ") + e.what());
  }
  return 0;
}
