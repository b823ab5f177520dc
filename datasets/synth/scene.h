// One synthetic whole-body image and its COCO-WholeBody annotations: a cluttered background,
// 1-6 people and some occluders painted back to front, visibility measured on the painted result,
// then lighting, colour jitter, blur and noise. Everything random comes from one seed.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "datasets/coco.h"
#include "datasets/image.h"
#include "datasets/synth/person.h"

namespace wb::data::synth {

struct SceneOptions {
  int width = 640, height = 480;
  Difficulty difficulty = Difficulty::normal;
};

struct Scene {
  Image image;
  // Ids, image_id and category_id are left for the caller. Keypoints follow COCO-WholeBody:
  // v = 2 visible, 1 inside the image but hidden (by another person, an occluder, the person's
  // own body or a face turned aside), 0 not labelled (outside the image, or a part that is not
  // annotated: then the whole part is zeros and its *_valid flag false). bbox holds the visible
  // silhouette and every labelled keypoint; area is the visible silhouette's pixel count.
  std::vector<PersonAnnotation> people;
};

Scene render_scene(const SceneOptions& options, uint64_t seed);

// Detector-like person boxes for one image's annotations: jittered, scored, some people missed
// and some false positives added; category 1.
std::vector<PersonBox> detector_boxes(const std::vector<PersonAnnotation>& people, int64_t image_id, int width,
                                      int height, Difficulty difficulty, uint64_t seed);

// "easy" | "normal" | "hard"; the error names the bad value.
Difficulty parse_difficulty(const std::string& name);
const char* difficulty_name(Difficulty difficulty);

}  // namespace wb::data::synth
