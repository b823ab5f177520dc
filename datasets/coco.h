// COCO person-keypoints and COCO-WholeBody v1.0 files: annotations, keypoint results and detector
// person boxes. Every malformed input is a wb::Error naming the file, the annotation (or result
// index) and the field; nothing is dropped silently.
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace wb::data {

// COCO boxes: top-left corner and size, in pixels.
struct Box {
  double x = 0, y = 0, w = 0, h = 0;
};

struct CocoImage {
  int64_t id = 0;
  std::string file_name;
  int width = 0, height = 0;
};

struct CocoCategory {
  int64_t id = 0;
  std::string name;
};

// COCO: 17 body keypoints. COCO-WholeBody: 133, in the order of pose::coco_wholebody().
enum class KeypointFormat { coco_body, coco_wholebody };
int keypoint_count(KeypointFormat format);

struct PersonAnnotation {
  int64_t id = 0, image_id = 0, category_id = 0;
  Box bbox;
  double area = 0;  // segmentation area: the OKS scale for every part
  bool iscrowd = false;
  int num_keypoints = 0;  // as written in the file: labelled body keypoints
  // (x, y, v) triples. For COCO-WholeBody the five fields keypoints, foot_kpts, face_kpts,
  // lefthand_kpts, righthand_kpts are concatenated in that order. v may be fractional; v > 0 means
  // labelled.
  std::vector<double> keypoints;
  // The silhouette in COCO's uncompressed RLE: run lengths over the image's pixels in column-major
  // order, starting with a run of background. Read only in that form ({"size": [h, w], "counts":
  // [...]}); polygons and compressed RLE are left out (empty). Written when not empty.
  std::vector<int64_t> segmentation_rle;
  // COCO-WholeBody only (left at zero / false for COCO files).
  Box face_box, lefthand_box, righthand_box;
  bool foot_valid = false, face_valid = false, lefthand_valid = false, righthand_valid = false;
};

struct CocoKeypointsFile {
  std::string path;
  KeypointFormat format = KeypointFormat::coco_body;
  std::vector<CocoImage> images;
  std::vector<CocoCategory> categories;
  std::vector<PersonAnnotation> annotations;  // file order

  const CocoImage* find_image(int64_t id) const;  // nullptr when absent
};

// The format is COCO-WholeBody when the first annotation carries foot_kpts (a file without
// annotations reads as COCO); every annotation must then carry every whole-body field.
CocoKeypointsFile read_coco_keypoints(const std::string& path);
// Same, from text in memory; `name` stands for the file in error messages.
CocoKeypointsFile parse_coco_keypoints(std::string_view json_text, const std::string& name);

// The inverse of read_coco_keypoints, atomically: info, images, the person category (with the 17
// body keypoint names and skeleton, as COCO writes it) and the annotations with every field of the
// file's format. Keypoint counts must match the format. Reading the text back gives `file` again.
void write_coco_keypoints(const std::string& path, const CocoKeypointsFile& file);
std::string coco_keypoints_json(const CocoKeypointsFile& file);

// Annotations a top-down trainer cannot use, counted by reason so that a run can report them.
struct SkipCounts {
  int64_t crowd = 0;
  int64_t zero_area_box = 0;  // bbox width or height <= 0
  int64_t no_keypoints = 0;   // no keypoint with v > 0 in any part
  int64_t outside_image = 0;  // a bbox that does not overlap its image (a crop of padding only)
  int64_t total() const { return crowd + zero_area_box + no_keypoints + outside_image; }
  std::string summary() const;  // e.g. "skipped 12 annotations: 3 crowd, 1 zero-area box, 8 ..."
};
struct InstanceSelection {
  std::vector<size_t> kept;  // indices into annotations, file order
  SkipCounts skipped;
};
InstanceSelection select_training_instances(const CocoKeypointsFile& file);

// One pose in the COCO (-WholeBody) results format.
struct KeypointResult {
  int64_t image_id = 0;
  int64_t category_id = 1;
  // (x, y, score) triples: 17 (COCO) or 133 (COCO-WholeBody, same concatenation as annotations).
  std::vector<double> keypoints;
  double score = 0;
  // Optional "<part>_score" fields, keyed by part name: body, foot, face, lefthand, righthand,
  // wholebody.
  std::map<std::string, double> part_scores;
  std::optional<Box> bbox;  // a non-empty "bbox" field, when the writer of the file gave one
};

// Results files hold 17-keypoint results (only "keypoints") or whole-body ones (all five fields),
// decided by the first result.
std::vector<KeypointResult> read_keypoint_results(const std::string& path);
std::vector<KeypointResult> parse_keypoint_results(std::string_view json_text, const std::string& name);
// Writes image_id, category_id, the keypoint field(s), score, the part scores present and bbox if
// set, atomically. All results must have the same keypoint count (17 or 133).
void write_keypoint_results(const std::string& path, const std::vector<KeypointResult>& results);
std::string keypoint_results_json(const std::vector<KeypointResult>& results);

// Detector output in the COCO detection results format, e.g. COCO_val2017_detections_AP_H_56_person.json.
struct PersonBox {
  int64_t image_id = 0;
  int64_t category_id = 0;
  Box bbox;
  double score = 0;
};
// Every entry, whatever its category; callers keep category 1 (person) and apply their threshold.
std::vector<PersonBox> read_person_boxes(const std::string& path);
std::vector<PersonBox> parse_person_boxes(std::string_view json_text, const std::string& name);
// The inverse of read_person_boxes, atomically.
void write_person_boxes(const std::string& path, const std::vector<PersonBox>& boxes);
std::string person_boxes_json(const std::vector<PersonBox>& boxes);

}  // namespace wb::data
