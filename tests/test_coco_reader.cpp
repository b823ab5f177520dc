// COCO / COCO-WholeBody readers and writers: the shared fixture files, and every malformed-input
// case yielding an error that names the file, the record and the field.
#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <unistd.h>

#include "datasets/coco.h"
#include "tensor/error.h"

using namespace wb::data;
using json = nlohmann::json;

namespace {

// The fixture lives in ../shared next to the repository; a missing folder fails the test.
std::string fixture(const std::string& name) {
  const std::string path = std::string(WBPOSE_SOURCE_DIR) + "/../shared/fixtures/wholebody_eval/" + name;
  REQUIRE_MESSAGE(std::filesystem::exists(path), "fixture missing: " << path);
  return path;
}

// One COCO-WholeBody annotation with every field, all keypoints labelled.
json wholebody_annotation(int64_t id, int64_t image_id) {
  json a = {{"id", id}, {"image_id", image_id}, {"category_id", 1}, {"bbox", {10, 20, 100, 200}},
            {"area", 15000.5}, {"iscrowd", 0}, {"num_keypoints", 17}, {"face_box", {1, 2, 3, 4}},
            {"lefthand_box", {0, 0, 0, 0}}, {"righthand_box", {5, 6, 7, 8}}, {"foot_valid", true},
            {"face_valid", true}, {"lefthand_valid", false}, {"righthand_valid", true}};
  const std::pair<const char*, int> fields[] = {
      {"keypoints", 17}, {"foot_kpts", 6}, {"face_kpts", 68}, {"lefthand_kpts", 21}, {"righthand_kpts", 21}};
  double base = 0;
  for (auto [name, n] : fields) {
    json v = json::array();
    for (int k = 0; k < n; ++k) {
      v.push_back(base + k);
      v.push_back(base + k + 0.5);
      v.push_back(2);
    }
    a[name] = v;
    base += 1000;
  }
  return a;
}

json wholebody_file() {
  return {{"images", {{{"id", 7}, {"file_name", "a.jpg"}, {"width", 640}, {"height", 480}}}},
          {"categories", {{{"id", 1}, {"name", "person"}}}},
          {"annotations", {wholebody_annotation(101, 7), wholebody_annotation(102, 7)}}};
}

// The error message of parsing `text`, or "" when it parses.
std::string gt_error(const std::string& text) {
  try {
    parse_coco_keypoints(text, "gt.json");
  } catch (const wb::Error& e) {
    return e.what();
  }
  return "";
}

std::string results_error(const std::string& text) {
  try {
    parse_keypoint_results(text, "res.json");
  } catch (const wb::Error& e) {
    return e.what();
  }
  return "";
}

void check_mentions(const std::string& message, std::initializer_list<const char*> parts) {
  INFO("message: ", message);
  CHECK(!message.empty());
  for (const char* p : parts) CHECK(message.find(p) != std::string::npos);
}

std::string temp_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("wbpose_test_" + std::to_string(::getpid()) + "_" + name)).string();
}

}  // namespace

TEST_CASE("coco reader: the COCO-WholeBody fixture") {
  const CocoKeypointsFile f = read_coco_keypoints(fixture("example_gt.json"));
  CHECK(f.format == KeypointFormat::coco_wholebody);
  CHECK(f.images.size() == 5);
  CHECK(f.annotations.size() == 26);
  REQUIRE(f.categories.size() == 1);
  CHECK(f.categories[0].name == "person");
  const CocoImage* im = f.find_image(785);
  REQUIRE(im != nullptr);
  CHECK(im->file_name == "000000000785.jpg");
  CHECK(im->width == 640);
  CHECK(im->height == 425);

  const PersonAnnotation& a = f.annotations[0];
  CHECK(a.id == 442619);
  CHECK(a.image_id == 785);
  CHECK(a.area == 27789.11055);
  CHECK(a.bbox.x == 280.79);
  CHECK(a.bbox.h == 346.68);
  CHECK(a.num_keypoints == 17);
  CHECK_FALSE(a.iscrowd);
  CHECK(a.keypoints.size() == 3 * 133);
  CHECK(a.face_valid);
  CHECK_FALSE(a.lefthand_valid);
  CHECK(a.righthand_valid);
  CHECK(a.foot_valid);
  CHECK(a.lefthand_box.w == 0);
  CHECK(a.righthand_box.x == 280.43);
  // The invalid left hand is all zeros; the valid right hand has labelled points.
  double left = 0, right = 0;
  for (int k = 91; k < 112; ++k) left += a.keypoints[3 * k + 2];
  for (int k = 112; k < 133; ++k) right += a.keypoints[3 * k + 2];
  CHECK(left == 0);
  CHECK(right > 0);
}

TEST_CASE("coco reader: the fixture predictions, with and without part scores") {
  const auto plain = read_keypoint_results(fixture("example_preds.json"));
  const auto scored = read_keypoint_results(fixture("example_preds_partscores.json"));
  REQUIRE(plain.size() == 26);
  REQUIRE(scored.size() == 26);
  CHECK(plain[0].image_id == 785);
  CHECK(plain[0].keypoints.size() == 3 * 133);
  CHECK(plain[0].keypoints[0] == doctest::Approx(368.26007080078125));
  CHECK(plain[0].score == doctest::Approx(0.7079555280799941));
  CHECK(plain[0].part_scores.empty());
  CHECK_FALSE(plain[0].bbox.has_value());
  for (const char* part : {"body", "foot", "face", "lefthand", "righthand"}) CHECK(scored[0].part_scores.count(part) == 1);
  CHECK(scored[0].part_scores.count("wholebody") == 0);
}

TEST_CASE("coco reader: COCO person keypoints, and training-instance selection") {
  json f = {{"images", {{{"id", 1}, {"file_name", "a.jpg"}, {"width", 10}, {"height", 10}}}},
            {"categories", {{{"id", 1}, {"name", "person"}}}},
            {"annotations", json::array()}};
  auto person = [](int64_t id, json bbox, bool crowd, double v) {
    json kp = json::array();
    for (int k = 0; k < 17; ++k) kp.insert(kp.end(), {k, k, v});
    return json{{"id", id}, {"image_id", 1}, {"category_id", 1}, {"bbox", bbox}, {"area", 50},
                {"iscrowd", crowd ? 1 : 0}, {"num_keypoints", v > 0 ? 17 : 0}, {"keypoints", kp}};
  };
  f["annotations"].push_back(person(1, {0, 0, 5, 5}, false, 2));
  f["annotations"].push_back(person(2, {0, 0, 5, 5}, true, 0));
  f["annotations"].push_back(person(3, {0, 0, 0, 5}, false, 2));
  f["annotations"].push_back(person(4, {0, 0, 5, 5}, false, 0));
  f["annotations"].push_back(person(5, {1, 1, 2, 2}, false, 0.5));
  f["annotations"].push_back(person(6, {10, 2, 5, 5}, false, 2));  // right of the 10x10 image
  f["annotations"][4].erase("iscrowd");  // absent means not a crowd, as in xtcocotools
  const CocoKeypointsFile c = parse_coco_keypoints(f.dump(), "coco.json");
  CHECK(c.format == KeypointFormat::coco_body);
  CHECK(c.annotations.size() == 6);
  CHECK(c.annotations[0].keypoints.size() == 51);
  CHECK(c.annotations[1].iscrowd);
  CHECK_FALSE(c.annotations[4].iscrowd);

  const InstanceSelection sel = select_training_instances(c);
  CHECK(sel.kept == std::vector<size_t>{0, 4});
  CHECK(sel.skipped.crowd == 1);
  CHECK(sel.skipped.zero_area_box == 1);
  CHECK(sel.skipped.no_keypoints == 1);
  CHECK(sel.skipped.outside_image == 1);
  CHECK(sel.skipped.total() == 4);
  CHECK(sel.skipped.summary().find("4 annotations") != std::string::npos);
  CHECK(sel.skipped.summary().find("1 box outside its image") != std::string::npos);
}

TEST_CASE("coco reader: malformed ground truth names the file, the annotation and the field") {
  CHECK(gt_error(wholebody_file().dump()).empty());

  check_mentions(gt_error("{\"images\": [}"), {"gt.json", "malformed JSON"});
  check_mentions(gt_error("[]"), {"gt.json"});
  {
    json f = wholebody_file();
    f.erase("annotations");
    check_mentions(gt_error(f.dump()), {"gt.json", "'annotations'"});
  }
  {
    json f = wholebody_file();
    f["annotations"][1].erase("area");
    check_mentions(gt_error(f.dump()), {"gt.json", "annotation 102", "missing field 'area'"});
  }
  {
    json f = wholebody_file();  // 62 face values instead of 204
    f["annotations"][1]["face_kpts"] = std::vector<double>(62, 1.0);
    check_mentions(gt_error(f.dump()), {"gt.json", "annotation 102", "'face_kpts'", "204", "got 62"});
  }
  {
    json f = wholebody_file();
    f["annotations"][0]["lefthand_kpts"][5] = "x";
    check_mentions(gt_error(f.dump()), {"annotation 101", "'lefthand_kpts'", "expected a number", "string"});
  }
  {
    json f = wholebody_file();
    f["annotations"][0]["bbox"] = "10 20 30 40";
    check_mentions(gt_error(f.dump()), {"annotation 101", "'bbox'", "[x, y, w, h]"});
  }
  {
    json f = wholebody_file();
    f["annotations"][0]["bbox"] = {1, 2, 3};
    check_mentions(gt_error(f.dump()), {"annotation 101", "'bbox'", "3 values"});
  }
  {
    json f = wholebody_file();
    f["annotations"][0]["face_valid"] = "yes";
    check_mentions(gt_error(f.dump()), {"annotation 101", "'face_valid'"});
  }
  {
    json f = wholebody_file();
    f["annotations"][1]["image_id"] = 8;
    check_mentions(gt_error(f.dump()), {"annotation 102", "image 8 is not in images"});
  }
  {
    json f = wholebody_file();
    f["annotations"][1]["id"] = 101;
    check_mentions(gt_error(f.dump()), {"annotation 101", "duplicate annotation id"});
  }
  {
    json f = wholebody_file();
    f["annotations"][1].erase("righthand_kpts");
    check_mentions(gt_error(f.dump()), {"annotation 102", "missing field 'righthand_kpts'"});
  }
  {
    json f = wholebody_file();
    f["images"][0]["width"] = 64.5;
    check_mentions(gt_error(f.dump()), {"image 7", "'width'", "expected an integer"});
  }
  {
    json f = wholebody_file();
    f["annotations"][0]["id"] = "101";
    check_mentions(gt_error(f.dump()), {"annotation #0", "'id'", "expected an integer"});
  }
  {
    json f = wholebody_file();  // stored unsigned: nlohmann's get<int64_t> would read -1
    f["annotations"][0]["id"] = std::numeric_limits<uint64_t>::max();
    check_mentions(gt_error(f.dump()), {"annotation #0", "'id'", "expected an integer"});
  }
  {
    std::string text = wholebody_file().dump();
    text.replace(text.find("\"area\":") + 7, 0, "1e999, \"x\": ");  // a number too large for a double
    check_mentions(gt_error(text), {"gt.json", "malformed JSON", "number overflow"});
  }
  CHECK_THROWS_AS(read_coco_keypoints("/nonexistent/gt.json"), wb::Error);
}

TEST_CASE("coco reader: malformed results name the file, the result and the field") {
  json r = json::array();
  for (int i = 0; i < 2; ++i) {
    json a = wholebody_annotation(1, 7);
    r.push_back({{"image_id", 7}, {"category_id", 1}, {"score", 0.5}, {"keypoints", a["keypoints"]},
                 {"foot_kpts", a["foot_kpts"]}, {"face_kpts", a["face_kpts"]},
                 {"lefthand_kpts", a["lefthand_kpts"]}, {"righthand_kpts", a["righthand_kpts"]}});
  }
  CHECK(results_error(r.dump()).empty());
  check_mentions(results_error("{}"), {"res.json", "array"});
  check_mentions(results_error("[{\"image_id\": 1,"), {"res.json", "malformed JSON"});
  {
    json b = r;
    b[1]["face_kpts"] = std::vector<double>(62, 0.0);
    check_mentions(results_error(b.dump()), {"res.json", "result #1", "'face_kpts'", "got 62"});
  }
  {
    json b = r;
    b[1].erase("score");
    check_mentions(results_error(b.dump()), {"result #1", "missing field 'score'"});
  }
  {
    json b = r;
    b[0]["foot_score"] = "high";
    check_mentions(results_error(b.dump()), {"result #0", "'foot_score'", "expected a number"});
  }
  {
    json b = r;  // result #0 decides the format: a later whole-body result is not silently cut
    b[0].erase("foot_kpts");
    check_mentions(results_error(b.dump()), {"result #1", "whole-body"});
  }
}

TEST_CASE("coco results writer: round trip with part scores and boxes") {
  std::vector<KeypointResult> rs(2);
  for (int i = 0; i < 2; ++i) {
    rs[i].image_id = 40 + i;
    rs[i].category_id = 1;
    rs[i].score = 0.25 * (i + 1);
    for (int k = 0; k < 3 * 133; ++k) rs[i].keypoints.push_back(k * 0.1 + i + 1.0 / 3.0);
  }
  rs[0].part_scores = {{"face", 0.7}, {"wholebody", 0.6}};
  rs[1].bbox = Box{1.5, 2.5, 30, 40};
  const std::string path = temp_path("results.json");
  write_keypoint_results(path, rs);
  const json j = json::parse(std::ifstream(path));
  REQUIRE(j.size() == 2);
  CHECK(j[0]["foot_kpts"].size() == 18);
  CHECK(j[0]["face_kpts"].size() == 204);
  CHECK(j[0]["righthand_kpts"].size() == 63);
  CHECK(j[0]["face_score"] == 0.7);
  CHECK_FALSE(j[1].contains("face_score"));

  const auto back = read_keypoint_results(path);
  std::filesystem::remove(path);
  REQUIRE(back.size() == 2);
  for (int i = 0; i < 2; ++i) {
    CHECK(back[i].image_id == rs[i].image_id);
    CHECK(back[i].score == rs[i].score);
    CHECK(back[i].keypoints == rs[i].keypoints);  // doubles round-trip exactly
    CHECK(back[i].part_scores == rs[i].part_scores);
  }
  CHECK_FALSE(back[0].bbox.has_value());
  REQUIRE(back[1].bbox.has_value());
  CHECK(back[1].bbox->w == 30);

  std::vector<KeypointResult> mixed = rs;
  mixed[1].keypoints.resize(51);
  CHECK_THROWS_WITH_AS(keypoint_results_json(mixed), doctest::Contains("result #1"), wb::Error);
  std::vector<KeypointResult> nan = rs;  // NaN weights' predictions: never a file of nulls
  nan[1].keypoints[7] = std::nan("");
  CHECK_THROWS_WITH_AS(keypoint_results_json(nan), doctest::Contains("result #1 (image 41) holds a NaN"), wb::Error);
  rs[0].part_scores["hands"] = 1;
  CHECK_THROWS_WITH_AS(keypoint_results_json(rs), doctest::Contains("unknown part 'hands'"), wb::Error);
}

TEST_CASE("coco person boxes: detector results") {
  const auto boxes = parse_person_boxes(
      R"([{"image_id": 5, "category_id": 1, "bbox": [1, 2, 3, 4], "score": 0.9},
          {"image_id": 6, "category_id": 2, "bbox": [0, 0, 1, 1], "score": 0.1}])",
      "dets.json");
  REQUIRE(boxes.size() == 2);
  CHECK(boxes[0].image_id == 5);
  CHECK(boxes[0].bbox.h == 4);
  CHECK(boxes[0].score == 0.9);
  CHECK(boxes[1].category_id == 2);
  CHECK_THROWS_WITH_AS(parse_person_boxes(R"([{"image_id": 5, "category_id": 1, "bbox": [1, 2, 3, 4]}])", "dets.json"),
                       doctest::Contains("dets.json: detection #0: missing field 'score'"), wb::Error);
}
