// A whole synthetic COCO-WholeBody set on disk: DIR/images/{train,val}_NNNNNN.jpg,
// DIR/annotations/{train,val}.json (COCO-WholeBody v1.0), DIR/person_boxes_val.json (detector-like
// boxes in the COCO results format) and, on request, DIR/preview.png. Every image has its own seed
// derived from (seed, split, index), so the bytes depend neither on the thread count nor on the
// other split's size.
#pragma once
#include <cstdint>
#include <functional>
#include <string>

#include "datasets/synth/person.h"

namespace wb::data::synth {

struct DatasetOptions {
  std::string out;
  int train = 0, val = 0;
  uint64_t seed = 0;
  int width = 640, height = 480;
  Difficulty difficulty = Difficulty::normal;
  bool preview = false;
  int jpeg_quality = 90;
};

// Image ids: train i + 1, val kValIdBase + i + 1; annotation ids: image id * 10 + person index.
inline constexpr int64_t kValIdBase = 1000000;
inline constexpr int kMaxImagesPerSplit = 999999;

struct DatasetSummary {
  int64_t images = 0, people = 0, boxes = 0;
  int64_t face_valid = 0, hand_valid = 0;  // annotated faces, annotated hands (left + right)
};

// Writes the set; `progress(done, total)` is called from one thread at a time as images finish.
// Errors (an unwritable folder, bad sizes) are wb::Error naming the path or option.
DatasetSummary generate_dataset(const DatasetOptions& options, const std::function<void(int, int)>& progress = {});

}  // namespace wb::data::synth
