// wbpose-infer: a trained top-down model on pictures. Each person box (from a boxes file, one box for
// all images, or the whole image) gets its keypoints predicted; the picture is written with the
// skeleton drawn on it (pose/draw.h), and the keypoints optionally as JSON.
#pragma once
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "datasets/coco.h"
#include "pose/heatmap_codec.h"

namespace wb::tasks {

struct InferOptions {
  std::string config, checkpoint;  // as wbpose-eval run (tasks/model_spec.h)
  std::vector<std::string> images;  // image files
  std::string images_dir;           // and/or every .png/.jpg/.jpeg in this folder, by name
  // Either {"<image path as given, or its file name>": [[x, y, w, h], [x, y, w, h, score], ...], ...}
  // or detector results in the COCO format ([{"image_id", "category_id", "bbox", "score"}, ...]),
  // whose image ids `annotations` (a COCO file) maps to file names; category 1 only.
  std::string boxes;
  std::string annotations;
  double min_box_score = 0.0;  // boxes from --boxes scored below this are left out
  std::optional<data::Box> box;  // one box for every image
  std::string out;   // a .png/.jpg file for a single image, else a folder (one <name>.png per image)
  std::string json;  // optional: the keypoints of every person of every image
  double threshold = 0.3;  // keypoints scored below are not drawn
  bool flip_test = false;
  std::optional<pose::HeatmapDecoding> decoding;
  std::string device = "cpu";
  int batch_size = 32;
  // Record the prediction op by op (tensor/profile.h) and write profile.txt, profile.json, trace.json
  // and roofline.png into "profile/" beside the pictures (in `out` when it is a folder).
  bool profile = false;
};

struct InferSummary {
  int64_t images = 0, people = 0;
  std::vector<std::string> pictures;  // written, in image order
  std::string profile_table;          // with InferOptions::profile: the tables of profile.txt
};

// Reads and checks every input (config, checkpoint, boxes, every image decodes, output names do not
// collide) before writing anything; then predicts, draws and writes. Progress goes to `log`.
InferSummary run_inference(const InferOptions& options, std::ostream& log);

// "x,y,w,h" -> a box with positive width and height; errors name the text.
data::Box parse_box(const std::string& text);

}  // namespace wb::tasks
