#include <unistd.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <sstream>

#include "datasets/image.h"
#include "datasets/loader.h"
#include "datasets/topdown.h"
#include "pose/keypoints.h"
#include "tensor/atomic_file.h"
#include "tests/temp_dir.h"
#include "tests/util.h"

using namespace wb;
using namespace wb::data;
using pose::Point2;
namespace fs = std::filesystem;

using wb::test::TempDir;

namespace {

double dist(Point2 a, Point2 b) { return std::hypot(a.x - b.x, a.y - b.y); }

// Textured RGB image (so that every crop has content), seeded.
Image textured_image(int w, int h, uint64_t seed) {
  Image img(w, h, 3);
  Generator gen(seed);
  const double fx = gen.uniform(0.02, 0.1), fy = gen.uniform(0.02, 0.1);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      for (int c = 0; c < 3; ++c)
        img.at(x, y)[c] = static_cast<uint8_t>(127.5 + 127.5 * std::sin(fx * x * (c + 1) + fy * y + c));
  return img;
}

// A whole-body person inside `box`, with a few keypoints unlabelled.
PersonInstance random_person(const std::string& path, int64_t image_id, int64_t ann_id, const Box& box,
                             Generator& gen) {
  PersonInstance p;
  p.image_path = path;
  p.image_id = image_id;
  p.annotation_id = ann_id;
  p.bbox = box;
  const int K = pose::coco_wholebody().size();
  for (int k = 0; k < K; ++k) {
    p.keypoints.push_back(box.x + gen.uniform(0, box.w));
    p.keypoints.push_back(box.y + gen.uniform(0, box.h));
    p.keypoints.push_back(gen.uniform() < 0.8 ? 2.0 : 0.0);
  }
  return p;
}

// Three images of different sizes on disk, two people on each.
std::vector<PersonInstance> make_instances(const TempDir& dir) {
  std::vector<PersonInstance> out;
  Generator gen(5);
  const int sizes[3][2] = {{320, 240}, {200, 300}, {257, 181}};
  for (int i = 0; i < 3; ++i) {
    const std::string path = dir.file("img" + std::to_string(i) + ".png");
    write_image(path, textured_image(sizes[i][0], sizes[i][1], 100 + i));
    out.push_back(random_person(path, i, 1000 + 2 * i, {10, 20, 90.0 + 10 * i, 150}, gen));
    out.push_back(random_person(path, i, 1001 + 2 * i, {60, 15, 70, 120.0 + 10 * i}, gen));
  }
  return out;
}

TopDownConfig small_config(pose::HeatmapEncoding enc = pose::HeatmapEncoding::Msra) {
  TopDownConfig c;
  c.codec.encoding = enc;
  c.codec.input_w = 48, c.codec.input_h = 64;
  c.codec.heatmap_w = 12, c.codec.heatmap_h = 16;
  c.codec.sigma = 1.0;
  c.codec.kernel_sizes = {7, 5};
  return c;
}

bool same_bytes(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() && std::memcmp(a.raw_data(), b.raw_data(), a.numel() * 4) == 0;
}

}  // namespace

TEST_CASE("topdown: flip twice is the identity on keypoints; a flip swaps mirror partners") {
  const pose::KeypointSet& set = pose::coco_wholebody();
  Generator gen(1);
  std::vector<Point2> kp;
  std::vector<float> vis;
  for (int k = 0; k < set.size(); ++k) {
    kp.push_back({gen.uniform(0, 639), gen.uniform(0, 479)});
    vis.push_back(k % 3 == 0 ? 0.0f : 1.0f);
  }
  std::vector<Point2> once = kp, twice;
  std::vector<float> vis_once = vis, vis_twice;
  flip_keypoints(once, vis_once, set.flip_index, 640);
  twice = once, vis_twice = vis_once;
  flip_keypoints(twice, vis_twice, set.flip_index, 640);
  for (int k = 0; k < set.size(); ++k) {
    CHECK(twice[k].x == doctest::Approx(kp[k].x).epsilon(1e-12));
    CHECK(twice[k].y == kp[k].y);
    CHECK(vis_twice[k] == vis[k]);
  }
  const int lw = set.index_of("left_wrist"), rw = set.index_of("right_wrist"), nose = set.index_of("nose");
  CHECK(once[rw].x == 639.0 - kp[lw].x);
  CHECK(once[rw].y == kp[lw].y);
  CHECK(vis_once[rw] == vis[lw]);
  CHECK(once[nose].x == 639.0 - kp[nose].x);
  // The first left-hand point becomes the first right-hand point.
  CHECK(once[set.part("righthand").begin].x == 639.0 - kp[set.part("lefthand").begin].x);
}

TEST_CASE("topdown: half-body ids follow MMPose's upper/lower keypoint types") {
  const HalfBodyIds wb_ids = half_body_ids(pose::coco_wholebody());
  CHECK(wb_ids.upper == std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10});
  CHECK(wb_ids.lower == std::vector<int>{11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22});
  CHECK(half_body_ids(pose::coco_body()).lower == std::vector<int>{11, 12, 13, 14, 15, 16});
}

TEST_CASE("topdown: half-body crop covers the chosen half, padded 1.5") {
  const pose::KeypointSet& set = pose::coco_wholebody();
  CropState s;
  s.keypoints.assign(set.size(), {0, 0});
  s.visible.assign(set.size(), 0.0f);
  for (int k = 0; k <= 10; ++k) s.keypoints[k] = {100.0 + 2 * k, 50.0 + k}, s.visible[k] = 1;
  for (int k = 11; k <= 16; ++k) s.keypoints[k] = {100, 300}, s.visible[k] = 1;
  s.center = {120, 200};
  s.scale = {100, 300};
  AugmentConfig aug;
  aug.half_body_prob = 1.0;
  aug.upper_prioritized_prob = 1.0;
  Generator gen(2);
  random_half_body(s, half_body_ids(set), aug, gen);
  CHECK(s.center.x == doctest::Approx(110.0));
  CHECK(s.center.y == doctest::Approx(55.0));
  CHECK(s.scale.x == doctest::Approx(20.0 * 1.5));
  CHECK(s.scale.y == doctest::Approx(10.0 * 1.5));
  // Fewer than 9 labelled points: no half-body crop.
  CropState few = s;
  few.visible.assign(set.size(), 0.0f);
  for (int k = 0; k < 8; ++k) few.visible[k] = 1;
  random_half_body(few, half_body_ids(set), aug, gen);
  CHECK(few.center.x == s.center.x);
}

TEST_CASE("topdown: random box transform stays in MMPose's ranges") {
  AugmentConfig aug;
  aug.shift_prob = aug.scale_prob = aug.rotate_prob = 1.0;
  Generator gen(3);
  double min_rot = 0, max_rot = 0;
  for (int i = 0; i < 500; ++i) {
    CropState s;
    s.center = {100, 100};
    s.scale = {50, 80};
    random_box_transform(s, aug, gen);
    const double f = s.scale.x / 50.0;
    CHECK(s.scale.y == doctest::Approx(80.0 * f));
    CHECK(f >= 0.5);
    CHECK(f <= 1.5);
    CHECK(std::fabs(s.center.x - 100) <= 0.16 * 50 + 1e-9);
    CHECK(std::fabs(s.center.y - 100) <= 0.16 * 80 + 1e-9);
    CHECK(std::fabs(s.rotation) <= 80.0);
    min_rot = std::min(min_rot, s.rotation), max_rot = std::max(max_rot, s.rotation);
  }
  CHECK(min_rot < -60);
  CHECK(max_rot > 60);
}

TEST_CASE("topdown: the image warp puts a blob where the affine map puts its keypoint") {
  // A bright Gaussian blob at p; after a rotated, flipped crop its intensity centroid must sit at
  // the mapped keypoint.
  const int W = 300, H = 200;
  const Point2 p{170.3, 90.6};
  Image img(W, H, 3);
  for (int y = 0; y < H; ++y)
    for (int x = 0; x < W; ++x) {
      const double v = 255.0 * std::exp(-((x - p.x) * (x - p.x) + (y - p.y) * (y - p.y)) / (2 * 3.0 * 3.0));
      for (int c = 0; c < 3; ++c) img.at(x, y)[c] = static_cast<uint8_t>(std::lround(v));
    }
  for (bool flipped : {false, true}) {
    CropState s;
    s.center = {150, 100};
    s.scale = {120, 160};
    s.rotation = 25;
    if (flipped) s.center.x = W - 1 - s.center.x, s.flipped = true;
    pose::HeatmapCodec codec;
    const pose::Affine crop = crop_affine(s, codec);
    const pose::Affine image_to_input = flipped ? crop.after(pose::horizontal_flip(W)) : crop;
    std::vector<float> chw(3 * 256 * 192);
    warp_normalize(img, image_to_input, 192, 256, {0, 0, 0}, {1, 1, 1}, chw.data());
    double sum = 0, sx = 0, sy = 0;
    for (int y = 0; y < 256; ++y)
      for (int x = 0; x < 192; ++x) {
        const double v = chw[y * 192 + x];
        sum += v, sx += v * x, sy += v * y;
      }
    const Point2 want = image_to_input.apply(p);
    CAPTURE(flipped);
    CHECK(dist({sx / sum, sy / sum}, want) < 0.05);
  }
}

TEST_CASE("topdown: samples put each keypoint's target where the crop maps it") {
  TempDir dir("topdown-sample");
  const std::vector<PersonInstance> inst = make_instances(dir);
  const pose::KeypointSet& set = pose::coco_wholebody();
  for (pose::HeatmapEncoding enc : {pose::HeatmapEncoding::Msra, pose::HeatmapEncoding::Udp}) {
    TopDownConfig cfg = small_config(enc);
    cfg.aug.flip_prob = 0.5;
    cfg.aug.rotate_prob = 1.0;
    const TopDownDataset ds(inst, set, cfg);
    int flips = 0;
    for (int64_t i = 0; i < ds.size(); ++i) {
      Generator gen(77 + i);
      const TopDownSample s = ds.sample(i, gen);
      CHECK(s.image.shape() == Shape{3, 64, 48});
      CHECK(s.heatmaps.shape() == Shape{set.size(), 16, 12});
      flips += s.meta.flipped;
      const std::vector<pose::DecodedKeypoint> got =
          pose::crop_to_image(pose::decode_heatmaps(cfg.codec, s.heatmaps), s.meta.image_to_input);
      const std::vector<float> w = s.weights.to_float_vector();
      const pose::Affine back = s.meta.image_to_input.inverse();
      const double zoom = std::max(std::hypot(back.m[0], back.m[3]), std::hypot(back.m[1], back.m[4]));
      const Point2 unit = cfg.codec.heatmap_to_input({1, 1});
      int checked = 0;
      for (int k = 0; k < set.size(); ++k) {
        // Channel j holds the keypoint that the flip moved there.
        const int src = s.meta.flipped ? set.flip_index[k] : k;
        const Point2 orig{inst[i].keypoints[3 * src], inst[i].keypoints[3 * src + 1]};
        const Point2 in_input = s.meta.image_to_input.apply(orig);
        // The labels handed on for ZoomNet: the same point, flip-permuted, and its visibility.
        REQUIRE(s.meta.input_keypoints.size() == static_cast<size_t>(set.size()));
        CHECK(dist(s.meta.input_keypoints[k], in_input) < 1e-6);
        CHECK(s.meta.visible[k] == (inst[i].keypoints[3 * src + 2] > 0 ? 1.0f : 0.0f));
        const Point2 hm = cfg.codec.input_to_heatmap(in_input);
        const bool inside = hm.x >= 1 && hm.y >= 1 && hm.x <= 10 && hm.y <= 14;
        if (inst[i].keypoints[3 * src + 2] == 0) {
          CHECK(w[k] == 0.0f);
        } else if (inside) {
          CHECK(w[k] == 1.0f);
          // Half a heatmap pixel per axis lost by rounding (Msra), a quarter-pixel shift on top.
          CHECK(dist(got[k].xy, orig) <= std::sqrt(2.0) * 0.75 * std::max(unit.x, unit.y) * zoom + 1e-6);
          ++checked;
        }
      }
      CHECK(checked > 0);
    }
    CHECK(flips > 0);
  }
}

TEST_CASE("topdown: evaluation crops are the padded, aspect-fixed box") {
  TempDir dir("topdown-eval");
  const std::vector<PersonInstance> inst = make_instances(dir);
  TopDownConfig cfg = small_config();
  cfg.augment = false;
  const TopDownDataset ds(inst, pose::coco_wholebody(), cfg);
  Generator gen(0);
  const TopDownSample s = ds.sample(0, gen);
  CHECK(s.meta.center.x == doctest::Approx(10 + 45.0));
  CHECK(s.meta.center.y == doctest::Approx(20 + 75.0));
  CHECK(s.meta.scale.y == doctest::Approx(150 * 1.25));
  CHECK(s.meta.scale.x == doctest::Approx(150 * 1.25 * 0.75));
  CHECK(s.meta.rotation == 0.0);
  CHECK_FALSE(s.meta.flipped);
  CHECK(s.meta.annotation_id == 1000);
}

TEST_CASE("loader: the same seed gives byte-identical batches for any worker count") {
  TempDir dir("loader");
  const std::vector<PersonInstance> inst = make_instances(dir);
  for (pose::HeatmapEncoding enc : {pose::HeatmapEncoding::Msra, pose::HeatmapEncoding::Megvii}) {
    const TopDownDataset ds(inst, pose::coco_wholebody(), small_config(enc));
    auto run = [&](int workers, int prefetch, uint64_t seed, int64_t epoch) {
      LoaderOptions opt;
      opt.batch_size = 4;
      opt.workers = workers;
      opt.prefetch = prefetch;
      opt.seed = seed;
      opt.drop_last = false;
      BatchLoader loader(ds, opt, epoch);
      std::vector<Batch> out;
      while (auto b = loader.next()) out.push_back(std::move(*b));
      CHECK(static_cast<int64_t>(out.size()) == loader.num_batches());
      return out;
    };
    const std::vector<Batch> ref = run(0, 1, 42, 0);
    REQUIRE(ref.size() == 2);
    CHECK(ref[0].images.shape() == Shape{4, 3, 64, 48});
    CHECK(ref[1].images.size(0) == 2);
    CHECK(ref[0].weights.shape() == Shape{4, 133});
    if (enc == pose::HeatmapEncoding::Megvii) CHECK(ref[0].heatmaps.shape() == Shape{4, 2, 133, 16, 12});
    for (auto [workers, prefetch] : {std::pair{1, 1}, std::pair{3, 2}, std::pair{4, 4}}) {
      CAPTURE(workers);
      const std::vector<Batch> got = run(workers, prefetch, 42, 0);
      REQUIRE(got.size() == ref.size());
      for (size_t b = 0; b < ref.size(); ++b) {
        CHECK(got[b].dataset_indices == ref[b].dataset_indices);
        CHECK(same_bytes(got[b].images, ref[b].images));
        CHECK(same_bytes(got[b].heatmaps, ref[b].heatmaps));
        CHECK(same_bytes(got[b].weights, ref[b].weights));
        for (size_t r = 0; r < ref[b].meta.size(); ++r) {
          CHECK(got[b].meta[r].image_to_input.m == ref[b].meta[r].image_to_input.m);
          CHECK(got[b].meta[r].image_id == ref[b].meta[r].image_id);
        }
      }
    }
    // Another seed or another epoch gives other samples.
    CHECK_FALSE(same_bytes(run(2, 2, 43, 0)[0].images, ref[0].images));
    CHECK_FALSE(same_bytes(run(2, 2, 42, 1)[0].images, ref[0].images));
  }
}

TEST_CASE("loader: epochs are permutations; drop_last; early destruction") {
  CHECK(epoch_order(5, 1, 0, false) == std::vector<int64_t>{0, 1, 2, 3, 4});
  std::vector<int64_t> order = epoch_order(100, 1, 3, true);
  CHECK(order != epoch_order(100, 1, 4, true));
  std::sort(order.begin(), order.end());
  for (int64_t i = 0; i < 100; ++i) CHECK(order[i] == i);
  CHECK(sample_seed(1, 0, 0) != sample_seed(1, 0, 1));
  CHECK(sample_seed(1, 0, 1) != sample_seed(1, 1, 0));

  TempDir dir("loader-drop");
  const TopDownDataset ds(make_instances(dir), pose::coco_wholebody(), small_config());
  LoaderOptions opt;
  opt.batch_size = 4;
  opt.workers = 3;
  BatchLoader loader(ds, opt, 0);
  CHECK(loader.num_batches() == 1);
  // Dropped with work still queued: the destructor must stop and join the workers.
  BatchLoader abandoned(ds, {2, 3, 3, 9, true, true}, 0);
}

TEST_CASE("loader: a corrupt image is an error naming its path, from any worker count") {
  TempDir dir("loader-corrupt");
  std::vector<PersonInstance> inst = make_instances(dir);
  const std::string bad = dir.file("corrupt.jpg");
  write_file_atomic(bad, "\xFF\xD8\xFF\xE0 a JPEG header and nothing else");
  inst[3].image_path = bad;
  const TopDownDataset ds(inst, pose::coco_wholebody(), small_config());
  for (int workers : {0, 2}) {
    LoaderOptions opt;
    opt.batch_size = 2;
    opt.workers = workers;
    opt.shuffle = false;
    BatchLoader loader(ds, opt, 0);
    std::string message;
    try {
      while (loader.next()) {
      }
    } catch (const Error& e) {
      message = e.what();
    }
    CAPTURE(workers);
    CHECK(message.find(bad) != std::string::npos);
  }
}

// A batch too large to allocate fails inside a worker thread: once an abort (the exception left the
// thread), now the error of next(). Heatmaps of 2^21 x 2^21 x 133 floats exceed any address space.
TEST_CASE("loader: a batch that cannot be allocated is an error from next(), not an abort") {
  TempDir dir("loader-alloc");
  TopDownConfig cfg = small_config();
  cfg.codec.heatmap_h = cfg.codec.heatmap_w = 1 << 21;
  const TopDownDataset ds(make_instances(dir), pose::coco_wholebody(), cfg);
  for (int workers : {0, 2}) {
    CAPTURE(workers);
    LoaderOptions opt;
    opt.batch_size = 2;
    opt.workers = workers;
    BatchLoader loader(ds, opt, 0);
    CHECK_THROWS(loader.next());
  }
  LoaderOptions too_many;
  too_many.workers = kMaxWorkers + 1;
  CHECK(test::error_of([&] { BatchLoader loader(ds, too_many, 0); }).find("workers") != std::string::npos);
}

TEST_CASE("topdown: instances with the wrong keypoint count or an empty box are named") {
  TempDir dir("topdown-bad");
  std::vector<PersonInstance> inst = make_instances(dir);
  inst[2].keypoints.resize(17 * 3);
  CHECK_THROWS_WITH_AS(TopDownDataset(inst, pose::coco_wholebody(), small_config()),
                       doctest::Contains("annotation 1002"), Error);
  inst = make_instances(dir);
  inst[4].bbox.w = 0;
  CHECK_THROWS_WITH_AS(TopDownDataset(inst, pose::coco_wholebody(), small_config()),
                       doctest::Contains("empty box"), Error);
}

TEST_CASE("topdown: COCO annotations and detector boxes become instances") {
  // Keypoint k at (10 + k, 20); the first five labelled.
  std::ostringstream kp_json, zero_json;
  for (int k = 0; k < 17; ++k) {
    kp_json << (k ? ", " : "[") << 10 + k << ", 20, " << (k < 5 ? 2 : 0);
    zero_json << (k ? ", " : "[") << "0, 0, 0";
  }
  kp_json << "]";
  zero_json << "]";
  const std::string kps = kp_json.str(), zeros = zero_json.str();
  const std::string text =
      R"({"images": [{"id": 7, "file_name": "a.jpg", "width": 64, "height": 48}],
          "categories": [{"id": 1, "name": "person"}],
          "annotations": [
            {"id": 1, "image_id": 7, "category_id": 1, "bbox": [1, 2, 30, 40], "area": 900, "iscrowd": 0,
             "num_keypoints": 5, "keypoints": )" + kps + R"(},
            {"id": 2, "image_id": 7, "category_id": 1, "bbox": [1, 2, 30, 40], "area": 900, "iscrowd": 0,
             "num_keypoints": 0, "keypoints": )" + zeros + R"(}]})";
  const CocoKeypointsFile file = parse_coco_keypoints(text, "mem.json");
  SkipCounts skipped;
  const std::vector<PersonInstance> inst = instances_from_coco(file, "/data/images/", &skipped);
  REQUIRE(inst.size() == 1);
  CHECK(skipped.no_keypoints == 1);
  CHECK(inst[0].image_path == "/data/images/a.jpg");
  CHECK(inst[0].annotation_id == 1);
  CHECK(inst[0].bbox.w == 30.0);
  CHECK(inst[0].keypoints.size() == 51u);
  CHECK(inst[0].keypoints[3 * 4] == 14.0);

  int64_t empty = -1;
  const std::vector<PersonInstance> det = instances_from_boxes(
      {{7, 1, {0, 0, 10, 20}, 0.9}, {7, 1, {0, 0, 0, 20}, 0.8}, {7, 2, {0, 0, 10, 20}, 0.9}, {7, 1, {0, 0, 5, 5}, 0.1}},
      file, "imgs", 0.2, &empty);
  REQUIRE(det.size() == 1);
  CHECK(empty == 1);
  CHECK(det[0].box_score == 0.9);
  CHECK(det[0].image_path == "imgs/a.jpg");
  CHECK(det[0].keypoints.empty());
  CHECK_THROWS_WITH_AS(instances_from_boxes({{8, 1, {0, 0, 10, 20}, 0.9}}, file, "imgs"), doctest::Contains("image 8"),
                       Error);
}
