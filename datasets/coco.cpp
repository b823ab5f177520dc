#include "datasets/coco.h"

#include <cmath>
#include <nlohmann/json.hpp>
#include <unordered_map>
#include <unordered_set>

#include "pose/keypoints.h"
#include "tensor/atomic_file.h"
#include "tensor/error.h"
#include "tensor/json_int.h"

namespace wb::data {
namespace {

using json = nlohmann::json;

// The five keypoint fields of a COCO-WholeBody record, in concatenation order, with their counts.
struct KeypointField {
  const char* name;
  int count;
};
constexpr KeypointField kWholeBodyFields[] = {
    {"keypoints", 17}, {"foot_kpts", 6}, {"face_kpts", 68}, {"lefthand_kpts", 21}, {"righthand_kpts", 21}};
constexpr const char* kPartScoreNames[] = {"body", "foot", "face", "lefthand", "righthand", "wholebody"};

// Where we are in a file, so that every error names the file and the record.
struct Where {
  const std::string& file;
  std::string record;  // "annotation 442619", "result #3", "images[2]"

  template <class... Args>
  [[noreturn]] void fail(const Args&... args) const {
    wb::fail(file, ": ", record, ": ", args...);
  }

  const json& field(const json& obj, const char* key) const {
    auto it = obj.find(key);
    if (it == obj.end()) fail("missing field '", key, "'");
    return *it;
  }
  double number(const json& obj, const char* key) const { return as_number(field(obj, key), key); }
  double as_number(const json& v, const char* key) const {
    if (!v.is_number()) fail("field '", key, "': expected a number, got ", v.type_name());
    return v.get<double>();
  }
  // Ids are integers; a float with an integral value (as some tools write them) is accepted.
  int64_t integer(const json& obj, const char* key) const {
    const json& v = field(obj, key);
    if (const std::optional<int64_t> i = json_int64(v)) return *i;
    if (v.is_number_float()) {
      const double d = v.get<double>();
      if (std::floor(d) == d && std::abs(d) < 9.0e15) return static_cast<int64_t>(d);
    }
    fail("field '", key, "': expected an integer of at most 2^63 - 1, got ", v.is_number() ? v.dump() : v.type_name());
  }
  // COCO writes flags as 0/1, COCO-WholeBody as true/false; both are accepted.
  bool flag(const json& obj, const char* key) const {
    const json& v = field(obj, key);
    if (v.is_boolean()) return v.get<bool>();
    if (v.is_number_integer() && (v.get<int64_t>() == 0 || v.get<int64_t>() == 1)) return v.get<int64_t>() == 1;
    fail("field '", key, "': expected true/false or 0/1, got ", v.is_number() ? v.dump() : v.type_name());
  }
  std::string string(const json& obj, const char* key) const {
    const json& v = field(obj, key);
    if (!v.is_string()) fail("field '", key, "': expected a string, got ", v.type_name());
    return v.get<std::string>();
  }
  Box box(const json& obj, const char* key) const {
    const json& v = field(obj, key);
    if (!v.is_array() || v.size() != 4) {
      fail("field '", key, "': expected [x, y, w, h], got ", v.is_array() ? std::to_string(v.size()) + " values" : v.type_name());
    }
    return {as_number(v[0], key), as_number(v[1], key), as_number(v[2], key), as_number(v[3], key)};
  }
  // Appends `count` (x, y, v) triples read from obj[key] to out.
  void triples(const json& obj, const char* key, int count, std::vector<double>& out) const {
    const json& v = field(obj, key);
    if (!v.is_array()) fail("field '", key, "': expected an array of numbers, got ", v.type_name());
    if (v.size() != static_cast<size_t>(3 * count)) {
      fail("field '", key, "': expected ", 3 * count, " numbers (", count, " keypoints x 3), got ", v.size());
    }
    for (const json& x : v) out.push_back(as_number(x, key));
  }
};

json parse_json(std::string_view text, const std::string& name) {
  try {
    return json::parse(text);
  } catch (const json::exception& e) {  // parse_error, and out_of_range for 1e999
    fail(name, ": malformed JSON: ", e.what());
  }
}

const json& top_array(const json& root, const char* key, const std::string& name) {
  auto it = root.find(key);
  if (it == root.end()) fail(name, ": missing top-level field '", key, "'");
  if (!it->is_array()) fail(name, ": top-level field '", key, "' must be an array, got ", it->type_name());
  return *it;
}

std::string record_name(const char* kind, const json& obj, size_t index) {
  auto it = obj.find("id");
  if (it != obj.end())
    if (const std::optional<int64_t> id = json_int64(*it)) return std::string(kind) + " " + std::to_string(*id);
  return std::string(kind) + " #" + std::to_string(index);
}

PersonAnnotation read_annotation(const json& a, const Where& w, KeypointFormat format) {
  if (!a.is_object()) w.fail("expected an object, got ", a.type_name());
  PersonAnnotation p;
  p.id = w.integer(a, "id");
  p.image_id = w.integer(a, "image_id");
  p.category_id = w.integer(a, "category_id");
  p.bbox = w.box(a, "bbox");
  p.area = w.number(a, "area");
  if (!(p.area >= 0)) w.fail("field 'area': ", p.area, " is negative");
  // xtcocotools treats a missing iscrowd as 0; so do we.
  p.iscrowd = a.contains("iscrowd") ? w.flag(a, "iscrowd") : false;
  p.num_keypoints = static_cast<int>(w.integer(a, "num_keypoints"));
  auto seg = a.find("segmentation");
  if (seg != a.end() && seg->is_object() && seg->contains("counts") && (*seg)["counts"].is_array()) {
    for (const json& c : (*seg)["counts"]) {
      if (!c.is_number_integer() || c.get<int64_t>() < 0) w.fail("field 'segmentation': RLE counts must be integers >= 0");
      p.segmentation_rle.push_back(c.get<int64_t>());
    }
  }
  if (format == KeypointFormat::coco_body) {
    if (a.contains("foot_kpts")) w.fail("has whole-body fields but the first annotation has none");
    w.triples(a, "keypoints", 17, p.keypoints);
    return p;
  }
  p.keypoints.reserve(3 * 133);
  for (const KeypointField& f : kWholeBodyFields) w.triples(a, f.name, f.count, p.keypoints);
  p.face_box = w.box(a, "face_box");
  p.lefthand_box = w.box(a, "lefthand_box");
  p.righthand_box = w.box(a, "righthand_box");
  p.foot_valid = w.flag(a, "foot_valid");
  p.face_valid = w.flag(a, "face_valid");
  p.lefthand_valid = w.flag(a, "lefthand_valid");
  p.righthand_valid = w.flag(a, "righthand_valid");
  return p;
}

}  // namespace

int keypoint_count(KeypointFormat format) { return format == KeypointFormat::coco_wholebody ? 133 : 17; }

const CocoImage* CocoKeypointsFile::find_image(int64_t id) const {
  for (const CocoImage& im : images) {
    if (im.id == id) return &im;
  }
  return nullptr;
}

CocoKeypointsFile parse_coco_keypoints(std::string_view json_text, const std::string& name) {
  const json root = parse_json(json_text, name);
  if (!root.is_object()) fail(name, ": expected a JSON object with images, annotations and categories");
  CocoKeypointsFile out;
  out.path = name;

  const json& images = top_array(root, "images", name);
  std::unordered_set<int64_t> image_ids;
  for (size_t i = 0; i < images.size(); ++i) {
    const json& im = images[i];
    const Where w{name, record_name("image", im, i)};
    if (!im.is_object()) w.fail("expected an object, got ", im.type_name());
    CocoImage img;
    img.id = w.integer(im, "id");
    img.file_name = w.string(im, "file_name");
    img.width = static_cast<int>(w.integer(im, "width"));
    img.height = static_cast<int>(w.integer(im, "height"));
    if (!image_ids.insert(img.id).second) w.fail("duplicate image id");
    out.images.push_back(std::move(img));
  }

  const json& cats = top_array(root, "categories", name);
  for (size_t i = 0; i < cats.size(); ++i) {
    const Where w{name, record_name("category", cats[i], i)};
    if (!cats[i].is_object()) w.fail("expected an object, got ", cats[i].type_name());
    out.categories.push_back({w.integer(cats[i], "id"), w.string(cats[i], "name")});
  }

  const json& anns = top_array(root, "annotations", name);
  out.format = !anns.empty() && anns[0].is_object() && anns[0].contains("foot_kpts") ? KeypointFormat::coco_wholebody
                                                                                       : KeypointFormat::coco_body;
  std::unordered_set<int64_t> ann_ids;
  out.annotations.reserve(anns.size());
  for (size_t i = 0; i < anns.size(); ++i) {
    const Where w{name, record_name("annotation", anns[i], i)};
    PersonAnnotation p = read_annotation(anns[i], w, out.format);
    if (!ann_ids.insert(p.id).second) w.fail("duplicate annotation id");
    if (!image_ids.count(p.image_id)) w.fail("field 'image_id': image ", p.image_id, " is not in images");
    out.annotations.push_back(std::move(p));
  }
  return out;
}

CocoKeypointsFile read_coco_keypoints(const std::string& path) {
  return parse_coco_keypoints(read_file(path), path);
}

std::string coco_keypoints_json(const CocoKeypointsFile& file) {
  using ojson = nlohmann::ordered_json;
  const bool wholebody = file.format == KeypointFormat::coco_wholebody;
  const size_t values = 3 * static_cast<size_t>(keypoint_count(file.format));
  // Whole numbers are written as integers (2, not 2.0), as the COCO files write them.
  auto number = [](double v) {
    return std::floor(v) == v && std::abs(v) < 1e15 ? ojson(static_cast<int64_t>(v)) : ojson(v);
  };
  auto numbers = [&](auto begin, auto end) {
    ojson a = ojson::array();
    for (auto it = begin; it != end; ++it) a.push_back(number(*it));
    return a;
  };
  auto box = [&](const Box& b) { return ojson::array({number(b.x), number(b.y), number(b.w), number(b.h)}); };

  ojson root = ojson::object();
  root["info"] = {{"description", wholebody ? "COCO-WholeBody" : "COCO"}, {"version", "1.0"}};
  ojson images = ojson::array();
  for (const CocoImage& im : file.images) {
    images.push_back({{"id", im.id}, {"file_name", im.file_name}, {"width", im.width}, {"height", im.height}});
  }
  root["images"] = std::move(images);

  // The person category carries the body keypoint names and the 1-based skeleton, as COCO's does.
  const pose::KeypointSet& body = pose::coco_body();
  ojson cats = ojson::array();
  for (const CocoCategory& c : file.categories) {
    ojson cat = {{"supercategory", c.name}, {"id", c.id}, {"name", c.name}};
    if (c.name == "person") {
      cat["keypoints"] = body.names;
      ojson links = ojson::array();
      for (const pose::SkeletonLink& l : body.skeleton) links.push_back({l.a + 1, l.b + 1});
      cat["skeleton"] = std::move(links);
    }
    cats.push_back(std::move(cat));
  }
  root["categories"] = std::move(cats);

  ojson anns = ojson::array();
  for (const PersonAnnotation& a : file.annotations) {
    check(a.keypoints.size() == values, "COCO keypoints writer: annotation ", a.id, " has ", a.keypoints.size(),
          " keypoint values; the file's format needs ", values);
    ojson j;
    if (!a.segmentation_rle.empty()) {
      const CocoImage* im = file.find_image(a.image_id);
      check(im != nullptr, "COCO keypoints writer: annotation ", a.id, " has a segmentation but its image ", a.image_id,
            " is not in the file");
      j["segmentation"] = {{"size", {im->height, im->width}}, {"counts", a.segmentation_rle}};
    }
    j["id"] = a.id;
    j["image_id"] = a.image_id;
    j["category_id"] = a.category_id;
    j["bbox"] = box(a.bbox);
    j["area"] = number(a.area);
    j["iscrowd"] = a.iscrowd ? 1 : 0;
    j["num_keypoints"] = a.num_keypoints;
    size_t at = 0;
    for (const KeypointField& f : kWholeBodyFields) {
      if (at == values) break;
      const size_t len = static_cast<size_t>(3 * f.count);
      j[f.name] = numbers(a.keypoints.begin() + at, a.keypoints.begin() + at + len);
      at += len;
    }
    if (wholebody) {
      j["face_box"] = box(a.face_box);
      j["lefthand_box"] = box(a.lefthand_box);
      j["righthand_box"] = box(a.righthand_box);
      j["foot_valid"] = a.foot_valid;
      j["face_valid"] = a.face_valid;
      j["lefthand_valid"] = a.lefthand_valid;
      j["righthand_valid"] = a.righthand_valid;
    }
    anns.push_back(std::move(j));
  }
  root["annotations"] = std::move(anns);
  return root.dump();
}

void write_coco_keypoints(const std::string& path, const CocoKeypointsFile& file) {
  write_file_atomic(path, coco_keypoints_json(file));
}

std::string SkipCounts::summary() const {
  std::ostringstream os;
  os << "skipped " << total() << " annotations: " << crowd << " crowd, " << zero_area_box
     << " zero-area box, " << no_keypoints << " without labelled keypoints";
  if (outside_image > 0) os << ", " << outside_image << " box outside its image";
  return os.str();
}

InstanceSelection select_training_instances(const CocoKeypointsFile& file) {
  InstanceSelection sel;
  std::unordered_map<int64_t, const CocoImage*> images;  // find_image scans: COCO has 10^5 people
  for (const CocoImage& im : file.images) images.emplace(im.id, &im);
  for (size_t i = 0; i < file.annotations.size(); ++i) {
    const PersonAnnotation& a = file.annotations[i];
    bool labelled = false;
    for (size_t k = 2; k < a.keypoints.size(); k += 3) labelled = labelled || a.keypoints[k] > 0;
    if (a.iscrowd) {
      ++sel.skipped.crowd;
    } else if (!(a.bbox.w > 0 && a.bbox.h > 0)) {
      ++sel.skipped.zero_area_box;
    } else if (!labelled) {
      ++sel.skipped.no_keypoints;
    } else if (const auto im = images.find(a.image_id);
               im != images.end() && !(a.bbox.x < im->second->width && a.bbox.y < im->second->height &&
                                       a.bbox.x + a.bbox.w > 0 && a.bbox.y + a.bbox.h > 0)) {
      ++sel.skipped.outside_image;
    } else {
      sel.kept.push_back(i);
    }
  }
  return sel;
}

std::vector<KeypointResult> parse_keypoint_results(std::string_view json_text, const std::string& name) {
  const json root = parse_json(json_text, name);
  if (!root.is_array()) fail(name, ": a results file is a JSON array of results, got ", root.type_name());
  std::vector<KeypointResult> out;
  out.reserve(root.size());
  const bool wholebody = !root.empty() && root[0].is_object() && root[0].contains("foot_kpts");
  for (size_t i = 0; i < root.size(); ++i) {
    const json& r = root[i];
    const Where w{name, "result #" + std::to_string(i)};
    if (!r.is_object()) w.fail("expected an object, got ", r.type_name());
    KeypointResult res;
    res.image_id = w.integer(r, "image_id");
    res.category_id = w.integer(r, "category_id");
    res.score = w.number(r, "score");
    if (wholebody) {
      res.keypoints.reserve(3 * 133);
      for (const KeypointField& f : kWholeBodyFields) w.triples(r, f.name, f.count, res.keypoints);
    } else {
      if (r.contains("foot_kpts")) w.fail("has whole-body fields but result #0 has none");
      w.triples(r, "keypoints", 17, res.keypoints);
    }
    for (const char* part : kPartScoreNames) {
      const std::string key = std::string(part) + "_score";
      if (r.contains(key)) res.part_scores[part] = w.number(r, key.c_str());
    }
    if (r.contains("bbox") && !(r["bbox"].is_array() && r["bbox"].empty())) res.bbox = w.box(r, "bbox");
    out.push_back(std::move(res));
  }
  return out;
}

std::vector<KeypointResult> read_keypoint_results(const std::string& path) {
  return parse_keypoint_results(read_file(path), path);
}

std::string keypoint_results_json(const std::vector<KeypointResult>& results) {
  json out = json::array();
  for (size_t i = 0; i < results.size(); ++i) {
    const KeypointResult& r = results[i];
    const size_t n = r.keypoints.size();
    check(n == 3 * 17 || n == 3 * 133, "keypoint results writer: result #", i, " has ", n,
          " keypoint values; expected 51 (COCO) or 399 (COCO-WholeBody)");
    check(n == results[0].keypoints.size(), "keypoint results writer: result #", i, " has ", n,
          " keypoint values but result #0 has ", results[0].keypoints.size());
    // JSON has no NaN: nlohmann writes null, which no reader (ours, xtcocotools) accepts.
    bool finite = std::isfinite(r.score);
    for (double v : r.keypoints) finite = finite && std::isfinite(v);
    for (const auto& [_, s] : r.part_scores) finite = finite && std::isfinite(s);
    if (r.bbox) finite = finite && std::isfinite(r.bbox->x) && std::isfinite(r.bbox->y) && std::isfinite(r.bbox->w) &&
                         std::isfinite(r.bbox->h);
    check(finite, "keypoint results writer: result #", i, " (image ", r.image_id, ") holds a NaN or infinite value");
    json j;
    j["image_id"] = r.image_id;
    j["category_id"] = r.category_id;
    size_t at = 0;
    for (const KeypointField& f : kWholeBodyFields) {
      if (at == n) break;
      const size_t len = static_cast<size_t>(3 * f.count);
      j[f.name] = std::vector<double>(r.keypoints.begin() + at, r.keypoints.begin() + at + len);
      at += len;
    }
    j["score"] = r.score;
    for (const auto& [part, s] : r.part_scores) {
      bool known = false;
      for (const char* p : kPartScoreNames) known = known || part == p;
      check(known, "keypoint results writer: result #", i, " has a score for unknown part '", part, "'");
      j[part + "_score"] = s;
    }
    if (r.bbox) j["bbox"] = {r.bbox->x, r.bbox->y, r.bbox->w, r.bbox->h};
    out.push_back(std::move(j));
  }
  return out.dump();
}

void write_keypoint_results(const std::string& path, const std::vector<KeypointResult>& results) {
  write_file_atomic(path, keypoint_results_json(results));
}

std::vector<PersonBox> parse_person_boxes(std::string_view json_text, const std::string& name) {
  const json root = parse_json(json_text, name);
  if (!root.is_array()) fail(name, ": a person-box file is a JSON array of detections, got ", root.type_name());
  std::vector<PersonBox> out;
  out.reserve(root.size());
  for (size_t i = 0; i < root.size(); ++i) {
    const json& d = root[i];
    const Where w{name, "detection #" + std::to_string(i)};
    if (!d.is_object()) w.fail("expected an object, got ", d.type_name());
    out.push_back({w.integer(d, "image_id"), w.integer(d, "category_id"), w.box(d, "bbox"), w.number(d, "score")});
  }
  return out;
}

std::vector<PersonBox> read_person_boxes(const std::string& path) {
  return parse_person_boxes(read_file(path), path);
}

std::string person_boxes_json(const std::vector<PersonBox>& boxes) {
  json out = json::array();
  for (const PersonBox& b : boxes) {
    out.push_back({{"image_id", b.image_id},
                   {"category_id", b.category_id},
                   {"bbox", {b.bbox.x, b.bbox.y, b.bbox.w, b.bbox.h}},
                   {"score", b.score}});
  }
  return out.dump();
}

void write_person_boxes(const std::string& path, const std::vector<PersonBox>& boxes) {
  write_file_atomic(path, person_boxes_json(boxes));
}

}  // namespace wb::data
