// The synthetic COCO-WholeBody generator: annotation invariants on rendered scenes, determinism by
// seed (also across thread counts), the files on disk read back by our readers, and ground truth
// scored as results giving AP 1 in every part.
#include <doctest/doctest.h>
#include <omp.h>
#include <unistd.h>

#include <filesystem>
#include <set>

#include "datasets/coco.h"
#include "datasets/image.h"
#include "datasets/oks_eval.h"
#include "datasets/synth/dataset.h"
#include "datasets/synth/scene.h"
#include "tensor/atomic_file.h"
#include "tensor/error.h"

using namespace wb::data;
namespace synth = wb::data::synth;
namespace fs = std::filesystem;

namespace {

constexpr int kParts[6] = {0, 17, 23, 91, 112, 133};

struct TempDir {
  std::string path;
  explicit TempDir(const std::string& tag)
      : path((fs::temp_directory_path() / ("wbpose-test-synth-" + tag + "-" + std::to_string(::getpid()))).string()) {
    fs::remove_all(path);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

bool contains(const Box& b, double x, double y) {
  constexpr double eps = 1e-6;
  return x >= b.x - eps && x <= b.x + b.w + eps && y >= b.y - eps && y <= b.y + b.h + eps;
}

// Every rule of the format and of the generator's contract for one annotation.
void check_annotation(const PersonAnnotation& a, int w, int h) {
  REQUIRE(a.keypoints.size() == 3 * 133);
  CHECK(a.area > 0);
  CHECK(a.area <= a.bbox.w * a.bbox.h + 1e-6);
  CHECK(a.bbox.x >= 0);
  CHECK(a.bbox.y >= 0);
  CHECK(a.bbox.x + a.bbox.w <= w + 1e-6);
  CHECK(a.bbox.y + a.bbox.h <= h + 1e-6);
  CHECK_FALSE(a.iscrowd);
  // The segmentation covers the image once and its foreground is the area.
  int64_t pixels = 0, foreground = 0;
  for (size_t i = 0; i < a.segmentation_rle.size(); ++i) {
    CHECK(a.segmentation_rle[i] >= 0);
    pixels += a.segmentation_rle[i];
    if (i % 2 == 1) foreground += a.segmentation_rle[i];
  }
  CHECK(pixels == static_cast<int64_t>(w) * h);
  CHECK(foreground == doctest::Approx(a.area));
  int body = 0;
  for (int k = 0; k < 133; ++k) {
    const double x = a.keypoints[3 * k], y = a.keypoints[3 * k + 1], v = a.keypoints[3 * k + 2];
    CHECK((v == 0 || v == 1 || v == 2));
    if (v == 0) {
      CHECK(x == 0);
      CHECK(y == 0);
      continue;
    }
    CHECK(x >= 0);
    CHECK(x <= w - 1);
    CHECK(y >= 0);
    CHECK(y <= h - 1);
    CHECK(contains(a.bbox, x, y));
    if (k < 17) ++body;
  }
  CHECK(a.num_keypoints == body);
  const bool valid[5] = {true, a.foot_valid, a.face_valid, a.lefthand_valid, a.righthand_valid};
  const Box* boxes[5] = {nullptr, nullptr, &a.face_box, &a.lefthand_box, &a.righthand_box};
  for (int part = 1; part < 5; ++part) {
    int labelled = 0;
    for (int k = kParts[part]; k < kParts[part + 1]; ++k) {
      if (a.keypoints[3 * k + 2] <= 0) continue;
      ++labelled;
      if (boxes[part]) CHECK(contains(*boxes[part], a.keypoints[3 * k], a.keypoints[3 * k + 1]));
    }
    CAPTURE(part);
    CHECK(valid[part] == (labelled > 0));
    if (!valid[part] && boxes[part]) {
      CHECK(boxes[part]->x == 0);
      CHECK(boxes[part]->y == 0);
      CHECK(boxes[part]->w == 0);
      CHECK(boxes[part]->h == 0);
    }
  }
}

CocoKeypointsFile as_file(const std::vector<PersonAnnotation>& people, int w, int h) {
  CocoKeypointsFile f;
  f.format = KeypointFormat::coco_wholebody;
  f.categories.push_back({1, "person"});
  f.images.push_back({1, "x.jpg", w, h});
  int64_t id = 1;
  for (PersonAnnotation a : people) {
    a.id = id++;
    a.image_id = 1;
    f.annotations.push_back(std::move(a));
  }
  return f;
}

std::map<std::string, std::string> read_tree(const std::string& root) {
  std::map<std::string, std::string> files;
  for (const auto& e : fs::recursive_directory_iterator(root)) {
    if (e.is_regular_file()) files[fs::relative(e.path(), root).string()] = wb::read_file(e.path().string());
  }
  return files;
}

}  // namespace

TEST_CASE("synth: rendered scenes keep every annotation invariant and show occlusion, faces and hands") {
  int people = 0, hidden = 0, visible = 0, faces = 0, hands = 0, feet = 0;
  const synth::Difficulty levels[3] = {synth::Difficulty::easy, synth::Difficulty::normal, synth::Difficulty::hard};
  for (int i = 0; i < 12; ++i) {
    const synth::SceneOptions opt{320, 240, levels[i % 3]};
    const synth::Scene s = synth::render_scene(opt, 100 + i);
    CAPTURE(i);
    REQUIRE(s.image.width == 320);
    REQUIRE(s.image.height == 240);
    REQUIRE(s.image.channels == 3);
    CHECK(s.people.size() <= 6);
    for (const PersonAnnotation& a : s.people) {
      check_annotation(a, 320, 240);
      ++people;
      faces += a.face_valid;
      hands += a.lefthand_valid + a.righthand_valid;
      feet += a.foot_valid;
      for (int k = 0; k < 133; ++k) {
        hidden += a.keypoints[3 * k + 2] == 1;
        visible += a.keypoints[3 * k + 2] == 2;
      }
    }
  }
  MESSAGE(people << " people, " << faces << " faces, " << hands << " hands, " << feet << " feet, " << visible
                 << " visible and " << hidden << " hidden points");
  CHECK(people >= 12);
  CHECK(faces > 0);
  CHECK(hands > 0);
  CHECK(feet > 0);
  CHECK(hidden > 0);
  CHECK(visible > 3 * hidden);
}

TEST_CASE("synth: the same seed gives the same image and annotations, another seed others") {
  const synth::SceneOptions opt{200, 150, synth::Difficulty::hard};
  const synth::Scene a = synth::render_scene(opt, 7), b = synth::render_scene(opt, 7), c = synth::render_scene(opt, 8);
  CHECK(a.image.pixels == b.image.pixels);
  CHECK(coco_keypoints_json(as_file(a.people, 200, 150)) == coco_keypoints_json(as_file(b.people, 200, 150)));
  CHECK(a.image.pixels != c.image.pixels);
  const std::vector<PersonBox> da = synth::detector_boxes(a.people, 1, 200, 150, opt.difficulty, 3);
  const std::vector<PersonBox> db = synth::detector_boxes(a.people, 1, 200, 150, opt.difficulty, 3);
  CHECK(person_boxes_json(da) == person_boxes_json(db));
}

TEST_CASE("synth: a set on disk reads back, is the same for 1 and 2 threads, and its ground truth scores AP 1") {
  TempDir one("t1"), two("t2");
  synth::DatasetOptions opt;
  opt.train = 3;
  opt.val = 8;
  opt.seed = 5;
  opt.width = 320;
  opt.height = 240;
  opt.preview = true;
  const int threads = omp_get_max_threads();
  omp_set_num_threads(1);
  opt.out = one.path;
  int calls = 0, last = 0;
  const synth::DatasetSummary sum = synth::generate_dataset(opt, [&](int done, int total) {
    ++calls;
    last = done;
    CHECK(total == 11);
  });
  omp_set_num_threads(2);
  opt.out = two.path;
  synth::generate_dataset(opt);
  omp_set_num_threads(threads);
  CHECK(calls == 11);
  CHECK(last == 11);
  CHECK(sum.images == 11);

  const auto files = read_tree(one.path);
  CHECK(files == read_tree(two.path));
  CHECK(files.size() == 11 + 3 + 1);  // images, two annotation files and the boxes, the preview
  CHECK(files.count("preview.png") == 1);

  const CocoKeypointsFile val = read_coco_keypoints(one.path + "/annotations/val.json");
  const CocoKeypointsFile train = read_coco_keypoints(one.path + "/annotations/train.json");
  CHECK(val.format == KeypointFormat::coco_wholebody);
  CHECK(val.images.size() == 8);
  CHECK(train.images.size() == 3);
  CHECK(static_cast<int64_t>(val.annotations.size() + train.annotations.size()) == sum.people);
  // Writing what was read gives the same text: nothing is lost or altered by the round trip.
  CHECK(coco_keypoints_json(val) == files.at("annotations/val.json"));
  std::set<int64_t> ids;
  for (const CocoKeypointsFile* f : {&train, &val}) {
    for (const CocoImage& im : f->images) {
      const Image img = read_image(one.path + "/images/" + im.file_name);
      CHECK(img.width == 320);
      CHECK(img.height == 240);
      CHECK(ids.insert(im.id).second);
    }
    for (const PersonAnnotation& a : f->annotations) {
      check_annotation(a, 320, 240);
      CHECK(f->find_image(a.image_id) != nullptr);
      CHECK(ids.insert(a.id).second);
    }
  }
  const std::vector<PersonBox> boxes = read_person_boxes(one.path + "/person_boxes_val.json");
  CHECK(!boxes.empty());
  for (const PersonBox& b : boxes) {
    CHECK(val.find_image(b.image_id) != nullptr);
    CHECK(b.category_id == 1);
    CHECK(b.score > 0);
    CHECK(b.score <= 1);
    CHECK(b.bbox.w > 0);
    CHECK(b.bbox.h > 0);
  }

  const auto stats = evaluate_wholebody(val, ground_truth_as_results(val),
                                        {"body", "foot", "face", "lefthand", "righthand", "wholebody"});
  for (const auto& [part, s] : stats) {
    CAPTURE(part);
    CHECK(s[0] == doctest::Approx(1.0));
  }
}

TEST_CASE("synth: bad options are errors naming the option") {
  CHECK_THROWS_WITH_AS(synth::parse_difficulty("medium"), doctest::Contains("--difficulty"), wb::Error);
  synth::DatasetOptions opt;
  opt.out = "/proc/wbpose-cannot-write-here";
  opt.train = 1;
  CHECK_THROWS_WITH_AS(synth::generate_dataset(opt), doctest::Contains("/proc/wbpose-cannot-write-here"), wb::Error);
  opt.out = "/tmp/unused";
  opt.train = 0;
  CHECK_THROWS_WITH_AS(synth::generate_dataset(opt), doctest::Contains("--train"), wb::Error);
}

TEST_CASE("synth: the segmentation RLE reads back; malformed counts are errors naming the field") {
  const synth::Scene s = synth::render_scene({160, 120, synth::Difficulty::easy}, 3);
  REQUIRE(!s.people.empty());
  const std::string text = coco_keypoints_json(as_file(s.people, 160, 120));
  const CocoKeypointsFile back = parse_coco_keypoints(text, "mem.json");
  CHECK(back.annotations[0].segmentation_rle == s.people[0].segmentation_rle);
  std::string bad = text;
  const size_t at = bad.find("\"counts\":[") + 10;
  bad.insert(at, "-1,");
  CHECK_THROWS_WITH_AS(parse_coco_keypoints(bad, "mem.json"), doctest::Contains("segmentation"), wb::Error);
}
