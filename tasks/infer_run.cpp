#include "tasks/infer_run.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <optional>
#include <set>

#include <nlohmann/json.hpp>

#include "datasets/image.h"
#include "datasets/pose_nms.h"
#include "pose/draw.h"
#include "pose/models/factory.h"
#include "tasks/model_spec.h"
#include "tasks/profile_report.h"
#include "tasks/progress.h"
#include "tasks/topdown_predictor.h"
#include "tensor/atomic_file.h"
#include "tensor/cuda_runtime.h"
#include "tensor/error.h"
#include "tensor/profile.h"

namespace wb::tasks {
namespace fs = std::filesystem;

namespace {

struct BoxWithScore {
  data::Box box;
  double score = 1.0;
};

std::string lower_extension(const fs::path& p) {
  std::string ext = p.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  return ext;
}

bool has_image_extension(const fs::path& p) {
  const std::string ext = lower_extension(p);
  return ext == ".png" || ext == ".jpg" || ext == ".jpeg";
}

// Picture formats a user may ask for that we do not write: such an --out is a mistake, not a folder.
bool has_unwritable_image_extension(const fs::path& p) {
  const std::string ext = lower_extension(p);
  for (const char* e : {".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm", ".tga", ".svg"})
    if (ext == e) return true;
  return false;
}

// A JSON value as an error quotes it: cut short, so that the error stays one readable line.
std::string excerpt(const nlohmann::json& v) {
  std::string s = v.dump();
  return s.size() <= 60 ? s : s.substr(0, 57) + "...";
}

std::vector<std::string> list_images(const InferOptions& o) {
  std::vector<std::string> out = o.images;
  if (!o.images_dir.empty()) {
    check(fs::is_directory(o.images_dir), "--images ", o.images_dir, ": no such folder");
    std::vector<std::string> found;
    for (const auto& e : fs::directory_iterator(o.images_dir))
      if (e.is_regular_file() && has_image_extension(e.path())) found.push_back(e.path().string());
    std::sort(found.begin(), found.end());
    check(!found.empty(), "--images ", o.images_dir, ": no .png, .jpg or .jpeg files in it");
    out.insert(out.end(), found.begin(), found.end());
  }
  check(!out.empty(), "no images given (--image or --images)");
  return out;
}

// COCO detection results, keyed by the file names `annotations` gives their image ids.
std::map<std::string, std::vector<BoxWithScore>> read_detections(const std::string& path,
                                                                 const std::string& annotations) {
  check(!annotations.empty(), path, ": COCO detection results name images by id; give --annotations, the COCO ",
        "file that lists them");
  const data::CocoKeypointsFile coco = data::read_coco_keypoints(annotations);
  std::map<std::string, std::vector<BoxWithScore>> out;
  const std::vector<data::PersonBox> boxes = data::read_person_boxes(path);
  for (size_t i = 0; i < boxes.size(); ++i) {
    const data::PersonBox& b = boxes[i];
    if (b.category_id != 1 || b.bbox.w <= 0 || b.bbox.h <= 0) continue;
    const data::CocoImage* img = coco.find_image(b.image_id);
    check(img != nullptr, path, ": box ", i, " is on image ", b.image_id, ", which ", annotations, " does not list");
    out[img->file_name].push_back({b.bbox, b.score});
  }
  return out;
}

// A COCO annotations file (ground truth): its people's "bbox" fields, score 1, as wbpose-eval run
// uses them without --boxes; crowd regions are left out.
std::map<std::string, std::vector<BoxWithScore>> read_annotation_boxes(const std::string& path) {
  const data::CocoKeypointsFile coco = data::read_coco_keypoints(path);
  std::map<std::string, std::vector<BoxWithScore>> out;
  for (const data::PersonAnnotation& a : coco.annotations) {
    if (a.iscrowd || a.bbox.w <= 0 || a.bbox.h <= 0) continue;
    const data::CocoImage* img = coco.find_image(a.image_id);
    check(img != nullptr, path, ": annotation ", a.id, " is on image ", a.image_id, ", which the file does not list");
    out[img->file_name].push_back({a.bbox, 1.0});
  }
  return out;
}

// The boxes file: image name -> boxes. Errors name the file, the image and the entry.
std::map<std::string, std::vector<BoxWithScore>> read_boxes_file(const std::string& path,
                                                                 const std::string& annotations) {
  const nlohmann::json j = pose::read_json_file(path);
  if (j.is_array()) return read_detections(path, annotations);
  if (j.is_object() && j.contains("annotations") && j.contains("images")) return read_annotation_boxes(path);
  check(j.is_object(), path, ": expected an object {\"image name\": [[x, y, w, h], ...], ...} or COCO detection ",
        "results");
  std::map<std::string, std::vector<BoxWithScore>> out;
  for (const auto& [name, list] : j.items()) {
    check(list.is_array(), path, ": \"", name, "\": expected an array of boxes");
    auto& boxes = out[name];
    for (size_t i = 0; i < list.size(); ++i) {
      const auto& b = list[i];
      bool ok = b.is_array() && (b.size() == 4 || b.size() == 5);
      for (size_t k = 0; ok && k < b.size(); ++k) ok = b[k].is_number();
      if (!ok)
        fail(path, ": \"", name, "\" box ", i, ": expected [x, y, w, h] or [x, y, w, h, score], got ", excerpt(b));
      BoxWithScore e{{b[0].get<double>(), b[1].get<double>(), b[2].get<double>(), b[3].get<double>()},
                     b.size() == 5 ? b[4].get<double>() : 1.0};
      if (!(e.box.w > 0 && e.box.h > 0 && std::isfinite(e.box.x) && std::isfinite(e.box.y) &&
            std::isfinite(e.box.w) && std::isfinite(e.box.h)))
        fail(path, ": \"", name, "\" box ", i, ": width and height must be positive and finite, got ", excerpt(b));
      boxes.push_back(e);
    }
  }
  return out;
}

// Where each image's picture goes: the --out file for one image, else <out>/<file stem>.png.
std::vector<std::string> picture_paths(const InferOptions& o, const std::vector<std::string>& images) {
  check(!o.out.empty(), "--out: an output file or folder is required");
  check(!has_unwritable_image_extension(o.out), "--out ", o.out, ": pictures are written as .png or .jpg (or give a ",
        "folder)");
  if (has_image_extension(o.out)) {
    check(images.size() == 1, "--out ", o.out, ": names one picture but there are ", images.size(),
          " images; give a folder");
    return {o.out};
  }
  check(!fs::exists(o.out) || fs::is_directory(o.out), "--out ", o.out, ": exists and is not a folder");
  std::vector<std::string> out;
  std::set<std::string> taken;
  for (const std::string& img : images) {
    const std::string path = (fs::path(o.out) / (fs::path(img).stem().string() + ".png")).string();
    check(taken.insert(path).second, "--out ", o.out, ": two images would both be drawn to ", path);
    out.push_back(path);
  }
  return out;
}

void draw_person(const pose::Canvas& canvas, const data::KeypointResult& r, const pose::KeypointSet& set,
                 double threshold) {
  const int side = std::min(canvas.width, canvas.height);
  const int line = std::max(1, side / 400);
  const int text_scale = std::max(1, side / 320);
  const data::Box& b = *r.bbox;
  const pose::Rgb box_color{255, 255, 255};
  draw_rect(canvas, static_cast<int>(std::lround(b.x)), static_cast<int>(std::lround(b.y)),
            static_cast<int>(std::lround(b.x + b.w)), static_cast<int>(std::lround(b.y + b.h)), box_color, line);
  char label[32];
  std::snprintf(label, sizeof label, "%.2f", r.score);
  const int label_y = static_cast<int>(std::lround(b.y)) - pose::kCellHeight * text_scale;
  pose::draw_text(canvas, static_cast<int>(std::lround(b.x)), std::max(0, label_y), label, box_color, text_scale);
  pose::SkeletonStyle style;
  style.threshold = threshold;
  draw_keypoints(canvas, set, r.keypoints, style);
}

}  // namespace

data::Box parse_box(const std::string& text) {
  double v[4];
  char tail = 0;
  const bool parsed = std::sscanf(text.c_str(), "%lf,%lf,%lf,%lf%c", &v[0], &v[1], &v[2], &v[3], &tail) == 4;
  check(parsed && v[2] > 0 && v[3] > 0 && std::isfinite(v[0]) && std::isfinite(v[1]) && std::isfinite(v[2]) &&
            std::isfinite(v[3]),
        "--box: expected x,y,w,h with positive width and height, got \"", text, "\"");
  return {v[0], v[1], v[2], v[3]};
}

InferSummary run_inference(const InferOptions& o, std::ostream& log) {
  check(o.boxes.empty() || !o.box, "--boxes and --box exclude each other");
  check(std::isfinite(o.threshold), "--threshold ", o.threshold, ": expected a finite score");
  check(std::isfinite(o.min_box_score), "--box-threshold ", o.min_box_score, ": expected a finite score");
  check(o.annotations.empty() || !o.boxes.empty(), "--annotations is only read with --boxes");
  const std::vector<std::string> images = list_images(o);
  const std::vector<std::string> pictures = picture_paths(o, images);
  check_can_create(o.out, "--out");
  if (!o.json.empty()) check_can_create(o.json, "--json");
  std::map<std::string, std::vector<BoxWithScore>> boxes_by_name;
  if (!o.boxes.empty()) boxes_by_name = read_boxes_file(o.boxes, o.annotations);

  // Every image must decode before anything is written; its size makes the whole-image box.
  std::vector<data::PersonInstance> instances;
  std::vector<std::pair<int, int>> sizes;
  for (size_t i = 0; i < images.size(); ++i) {
    const data::Image img = data::read_image(images[i], 3);
    sizes.emplace_back(img.width, img.height);
    std::vector<BoxWithScore> boxes;
    if (o.box) {
      boxes = {{*o.box, 1.0}};
    } else if (!o.boxes.empty()) {
      auto it = boxes_by_name.find(images[i]);
      if (it == boxes_by_name.end()) it = boxes_by_name.find(fs::path(images[i]).filename().string());
      if (it != boxes_by_name.end())
        for (const BoxWithScore& b : it->second)
          if (b.score >= o.min_box_score) boxes.push_back(b);
      if (boxes.empty()) log << images[i] << ": no boxes in " << o.boxes << "\n";
    } else {
      boxes = {{{0, 0, static_cast<double>(img.width), static_cast<double>(img.height)}, 1.0}};
    }
    for (const BoxWithScore& b : boxes)
      instances.push_back({images[i], static_cast<int64_t>(i), 0, b.box, b.score, {}});
  }

  ModelSpec spec = read_model_spec(o.config);
  load_model_weights(o.checkpoint, *spec.model);
  PredictOptions p = prepare_for_prediction(spec, o.decoding, o.flip_test, o.device, o.batch_size);
  ProgressLine progress(log, "predict", "people");
  p.progress = [&](int64_t done, int64_t total) { progress.update(done, total); };
  std::optional<profile::Recording> recording;
  if (o.profile) recording.emplace();
  std::vector<data::KeypointResult> results;
  {
    const profile::SpanScope span("predict");
    results = predict_instances(*spec.model, p, instances);
    if (o.profile && p.device.is_cuda()) cuda::synchronize(p.device.index);
  }
  progress.finish();
  std::string profile_table;
  if (o.profile) {
    const ProfileReport report = ProfileReport::finish(*recording, p.device);
    const fs::path folder = has_image_extension(o.out) ? fs::path(o.out).parent_path() : fs::path(o.out);
    profile_table = write_profile((folder / "profile").string(), report);
  }
  // Each pose's score: its box score times its mean confident-keypoint score, as evaluation ranks them.
  for (data::KeypointResult& r : results) {
    std::vector<double> scores;
    for (size_t k = 2; k < r.keypoints.size(); k += 3) scores.push_back(r.keypoints[k]);
    r.score = data::bbox_keypoint_score(r.score, scores, p.keypoint_score_threshold);
  }

  if (!has_image_extension(o.out)) fs::create_directories(o.out);
  nlohmann::json doc;
  doc["keypoint_set"] = spec.keypoints->name;
  doc["keypoint_names"] = spec.keypoints->names;
  doc["images"] = nlohmann::json::array();
  InferSummary summary;
  for (size_t i = 0; i < images.size(); ++i) {
    data::Image img = data::read_image(images[i], 3);
    const pose::Canvas canvas{img.pixels.data(), img.width, img.height, 3};
    nlohmann::json people = nlohmann::json::array();
    for (size_t j = 0; j < results.size(); ++j) {
      if (instances[j].image_id != static_cast<int64_t>(i)) continue;
      const data::KeypointResult& r = results[j];
      draw_person(canvas, r, *spec.keypoints, o.threshold);
      const data::Box& b = instances[j].bbox;
      people.push_back({{"bbox", {b.x, b.y, b.w, b.h}},
                        {"box_score", instances[j].box_score},
                        {"score", r.score},
                        {"keypoints", r.keypoints}});
      ++summary.people;
    }
    data::write_image(pictures[i], img);
    summary.pictures.push_back(pictures[i]);
    doc["images"].push_back({{"image", images[i]},
                             {"width", sizes[i].first},
                             {"height", sizes[i].second},
                             {"picture", pictures[i]},
                             {"people", people}});
  }
  summary.images = static_cast<int64_t>(images.size());
  summary.profile_table = profile_table;
  if (!o.json.empty()) write_file_atomic(o.json, doc.dump() + "\n");
  return summary;
}

}  // namespace wb::tasks
