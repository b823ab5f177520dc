#include "datasets/synth/dataset.h"

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <vector>

#include "datasets/coco.h"
#include "datasets/synth/preview.h"
#include "datasets/synth/random.h"
#include "datasets/synth/scene.h"
#include "tensor/error.h"

namespace wb::data::synth {
namespace {

namespace fs = std::filesystem;

constexpr int kPreviewImages = 6;

void make_dir(const std::string& path) {
  std::error_code ec;
  fs::create_directories(path, ec);
  check(!ec && fs::is_directory(path), "--out: cannot create folder ", path, (ec ? ": " + ec.message() : std::string()));
}

std::string image_name(int split, int index) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%s_%06d.jpg", split == 0 ? "train" : "val", index);
  return buf;
}

int64_t image_id(int split, int index) { return (split == 0 ? 0 : kValIdBase) + index + 1; }

struct SplitOutput {
  CocoKeypointsFile file;
  // The first images and their people, kept for the contact sheet.
  std::vector<Image> preview;
  std::vector<std::vector<PersonAnnotation>> preview_people;
};

// Renders and writes one split's images in parallel; returns its annotation file (not yet written).
SplitOutput render_split(const DatasetOptions& opt, int split, int count, int& done, int total,
                         const std::function<void(int, int)>& progress) {
  SplitOutput out;
  std::vector<std::vector<PersonAnnotation>> people(count);
  // The sheet shows val images, or train images when there is no val split.
  if (opt.preview && split == (opt.val > 0 ? 1 : 0)) out.preview.resize(std::min(count, kPreviewImages));
  const SceneOptions scene_opt{opt.width, opt.height, opt.difficulty};
  const std::string dir = opt.out + "/images/";
  std::string error;
  std::atomic<bool> failed{false};
#pragma omp parallel for schedule(dynamic, 1)
  for (int i = 0; i < count; ++i) {
    if (failed) continue;
    try {
      Scene scene = render_scene(scene_opt, image_seed(opt.seed, split, i));
      write_image(dir + image_name(split, i), scene.image, opt.jpeg_quality);
      people[i] = std::move(scene.people);
      if (i < static_cast<int>(out.preview.size())) out.preview[i] = std::move(scene.image);
    } catch (const std::exception& e) {
#pragma omp critical(synth_error)
      if (error.empty()) error = e.what();
      failed = true;
    }
#pragma omp critical(synth_progress)
    {
      ++done;
      if (progress) progress(done, total);
    }
  }
  if (failed) throw Error(error);

  out.preview_people.assign(people.begin(), people.begin() + out.preview.size());
  CocoKeypointsFile& f = out.file;
  f.format = KeypointFormat::coco_wholebody;
  f.categories.push_back({1, "person"});
  for (int i = 0; i < count; ++i) {
    const int64_t id = image_id(split, i);
    f.images.push_back({id, image_name(split, i), opt.width, opt.height});
    for (size_t k = 0; k < people[i].size(); ++k) {
      PersonAnnotation a = std::move(people[i][k]);
      a.id = id * 10 + static_cast<int64_t>(k);
      a.image_id = id;
      f.annotations.push_back(std::move(a));
    }
  }
  return out;
}

}  // namespace

DatasetSummary generate_dataset(const DatasetOptions& opt, const std::function<void(int, int)>& progress) {
  check(opt.train >= 0 && opt.val >= 0 && opt.train <= kMaxImagesPerSplit && opt.val <= kMaxImagesPerSplit,
        "--train/--val: image counts must be in [0, ", kMaxImagesPerSplit, "], got ", opt.train, " and ", opt.val);
  check(opt.train + opt.val > 0, "--train/--val: nothing to generate (both are 0)");
  check(!opt.out.empty(), "--out: no output folder given");
  // Into a folder that holds files, a set would replace its annotations and leave stale images.
  std::error_code ec;
  check(!fs::exists(opt.out, ec) || (fs::is_directory(opt.out, ec) && fs::is_empty(opt.out, ec)), "--out ", opt.out,
        ": exists and is not an empty folder (choose a new folder, or remove this one)");
  make_dir(opt.out + "/images");
  make_dir(opt.out + "/annotations");

  const int total = opt.train + opt.val;
  int done = 0;
  const SplitOutput train = render_split(opt, 0, opt.train, done, total, progress);
  const SplitOutput val = render_split(opt, 1, opt.val, done, total, progress);

  std::vector<PersonBox> boxes;
  std::vector<std::vector<PersonAnnotation>> per_image(opt.val);
  for (const PersonAnnotation& a : val.file.annotations) per_image[a.image_id - kValIdBase - 1].push_back(a);
  for (int i = 0; i < opt.val; ++i) {
    const int64_t id = image_id(1, i);
    // The detector's randomness is its own stream, so boxes never change the images.
    const std::vector<PersonBox> b =
        detector_boxes(per_image[i], id, opt.width, opt.height, opt.difficulty, mix64(image_seed(opt.seed, 1, i)));
    boxes.insert(boxes.end(), b.begin(), b.end());
  }
  write_coco_keypoints(opt.out + "/annotations/train.json", train.file);
  write_coco_keypoints(opt.out + "/annotations/val.json", val.file);
  write_person_boxes(opt.out + "/person_boxes_val.json", boxes);
  if (opt.preview) {
    const SplitOutput& shown = opt.val > 0 ? val : train;
    write_image(opt.out + "/preview.png", contact_sheet(shown.preview, shown.preview_people, 3, 320));
  }

  DatasetSummary s;
  s.images = total;
  s.boxes = static_cast<int64_t>(boxes.size());
  for (const CocoKeypointsFile* f : {&train.file, &val.file}) {
    for (const PersonAnnotation& a : f->annotations) {
      ++s.people;
      s.face_valid += a.face_valid;
      s.hand_valid += a.lefthand_valid + a.righthand_valid;
    }
  }
  return s;
}

}  // namespace wb::data::synth
