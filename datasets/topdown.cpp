#include "datasets/topdown.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>

#include "tensor/error.h"

namespace wb::data {

namespace {

// scipy.stats.truncnorm.rvs(-1, 1): a standard normal draw conditioned on [-1, 1], by rejection
// (about 1.5 draws on average).
double truncnorm(Generator& gen) {
  for (;;) {
    const double v = gen.normal();
    if (v >= -1.0 && v <= 1.0) return v;
  }
}

std::string join_path(const std::string& dir, const std::string& file) {
  if (dir.empty()) return file;
  return dir.back() == '/' ? dir + file : dir + "/" + file;
}

}  // namespace

std::vector<PersonInstance> instances_from_coco(const CocoKeypointsFile& file, const std::string& image_dir,
                                                SkipCounts* skipped) {
  const InstanceSelection sel = select_training_instances(file);
  if (skipped) *skipped = sel.skipped;
  std::vector<PersonInstance> out;
  out.reserve(sel.kept.size());
  for (size_t i : sel.kept) {
    const PersonAnnotation& a = file.annotations[i];
    const CocoImage* img = file.find_image(a.image_id);
    check(img != nullptr, file.path, ": annotation ", a.id, " refers to image ", a.image_id,
          " which is not in the file");
    out.push_back({join_path(image_dir, img->file_name), a.image_id, a.id, a.bbox, 1.0, a.keypoints});
  }
  return out;
}

std::vector<PersonInstance> instances_from_gt_boxes(const CocoKeypointsFile& file, const std::string& image_dir) {
  std::vector<PersonInstance> out;
  for (const PersonAnnotation& a : file.annotations) {
    if (a.iscrowd || a.bbox.w <= 0 || a.bbox.h <= 0) continue;
    const CocoImage* img = file.find_image(a.image_id);
    check(img != nullptr, file.path, ": annotation ", a.id, " refers to image ", a.image_id, " which is not listed");
    out.push_back({join_path(image_dir, img->file_name), a.image_id, a.id, a.bbox, 1.0, {}});
  }
  return out;
}

std::vector<PersonInstance> instances_from_boxes(const std::vector<PersonBox>& boxes, const CocoKeypointsFile& file,
                                                 const std::string& image_dir, double min_score,
                                                 int64_t* empty_boxes) {
  std::vector<PersonInstance> out;
  if (empty_boxes) *empty_boxes = 0;
  for (size_t i = 0; i < boxes.size(); ++i) {
    const PersonBox& b = boxes[i];
    if (b.category_id != 1 || b.score < min_score) continue;
    if (b.bbox.w <= 0 || b.bbox.h <= 0) {
      if (empty_boxes) ++*empty_boxes;
      continue;
    }
    const CocoImage* img = file.find_image(b.image_id);
    check(img != nullptr, "person box ", i, " refers to image ", b.image_id, " which is not in ", file.path);
    out.push_back({join_path(image_dir, img->file_name), b.image_id, 0, b.bbox, b.score, {}});
  }
  return out;
}

void flip_keypoints(std::vector<pose::Point2>& keypoints, std::vector<float>& visible,
                    const std::vector<int>& flip_index, int width) {
  check(flip_index.size() == keypoints.size() && visible.size() == keypoints.size(), "flip_keypoints: ",
        keypoints.size(), " keypoints, ", visible.size(), " visibility flags, ", flip_index.size(),
        " flip indices");
  const std::vector<pose::Point2> kp = keypoints;
  const std::vector<float> vis = visible;
  for (size_t i = 0; i < kp.size(); ++i) {
    const int j = flip_index[i];
    keypoints[i] = {width - 1.0 - kp[j].x, kp[j].y};
    visible[i] = vis[j];
  }
}

HalfBodyIds half_body_ids(const pose::KeypointSet& set) {
  const pose::KeypointPart& body = set.part("body");
  const int hip = set.index_of("left_hip");
  HalfBodyIds ids;
  for (int i = body.begin; i < hip; ++i) ids.upper.push_back(i);
  for (int i = hip; i < body.end; ++i) ids.lower.push_back(i);
  for (const pose::KeypointPart& p : set.parts)
    if (p.name == "foot")
      for (int i = p.begin; i < p.end; ++i) ids.lower.push_back(i);
  return ids;
}

void random_flip(CropState& s, int image_width, const std::vector<int>& flip_index, double prob, Generator& gen) {
  if (!(gen.uniform() < prob)) return;
  flip_keypoints(s.keypoints, s.visible, flip_index, image_width);
  s.center.x = image_width - 1.0 - s.center.x;
  s.flipped = !s.flipped;
}

void random_half_body(CropState& s, const HalfBodyIds& ids, const AugmentConfig& aug, Generator& gen) {
  double labelled = 0;
  for (float v : s.visible) labelled += v;
  if (labelled < aug.half_body_min_total) return;
  if (gen.uniform() > aug.half_body_prob) return;
  std::vector<int> upper, lower;
  for (int i : ids.upper)
    if (s.visible[i] > 0) upper.push_back(i);
  for (int i : ids.lower)
    if (s.visible[i] > 0) lower.push_back(i);
  const bool prefer_upper = gen.uniform() < aug.upper_prioritized_prob;
  const bool upper_ok = static_cast<int>(upper.size()) >= aug.half_body_min_upper;
  const bool lower_ok = static_cast<int>(lower.size()) >= aug.half_body_min_lower;
  if (!upper_ok && !lower_ok) return;
  const std::vector<int>& chosen = !lower_ok ? upper : (!upper_ok ? lower : (prefer_upper ? upper : lower));
  pose::Point2 mean, lo{INFINITY, INFINITY}, hi{-INFINITY, -INFINITY};
  for (int i : chosen) {
    const pose::Point2 p = s.keypoints[i];
    mean.x += p.x, mean.y += p.y;
    lo = {std::min(lo.x, p.x), std::min(lo.y, p.y)};
    hi = {std::max(hi.x, p.x), std::max(hi.y, p.y)};
  }
  // All chosen points at one spot would give an empty region (MMPose crashes on it later); keep the box.
  if (hi.x - lo.x <= 0 && hi.y - lo.y <= 0) return;
  const double n = static_cast<double>(chosen.size());
  s.center = {mean.x / n, mean.y / n};
  s.scale = {(hi.x - lo.x) * aug.half_body_padding, (hi.y - lo.y) * aug.half_body_padding};
}

void random_box_transform(CropState& s, const AugmentConfig& aug, Generator& gen) {
  // MMPose draws the four truncated normals first, then the three coin flips.
  const double ox = truncnorm(gen), oy = truncnorm(gen), sv = truncnorm(gen), rv = truncnorm(gen);
  const bool shift = gen.uniform() < aug.shift_prob;
  const bool scale = gen.uniform() < aug.scale_prob;
  const bool rotate = gen.uniform() < aug.rotate_prob;
  if (shift) {
    s.center.x += ox * aug.shift_factor * s.scale.x;
    s.center.y += oy * aug.shift_factor * s.scale.y;
  }
  if (scale) {
    const double mu = 0.5 * (aug.scale_max + aug.scale_min), sigma = 0.5 * (aug.scale_max - aug.scale_min);
    const double f = sv * sigma + mu;
    s.scale = {s.scale.x * f, s.scale.y * f};
  }
  s.rotation = rotate ? rv * aug.rotate_factor : 0.0;
}

pose::Affine crop_affine(CropState& s, const pose::HeatmapCodec& codec) {
  s.scale = pose::fix_aspect_ratio(s.scale, static_cast<double>(codec.input_w) / codec.input_h);
  return codec.encoding == pose::HeatmapEncoding::Udp
             ? pose::udp_warp_matrix(s.center, s.scale, s.rotation, codec.input_w, codec.input_h)
             : pose::warp_matrix(s.center, s.scale, s.rotation, codec.input_w, codec.input_h);
}

void warp_normalize(const Image& img, const pose::Affine& image_to_input, int out_w, int out_h,
                    const std::array<float, 3>& mean, const std::array<float, 3>& std, float* chw) {
  check(img.channels == 3 && !img.empty(), "warp_normalize: expects an RGB image, got ", img.width, "x",
        img.height, "x", img.channels);
  check(out_w > 0 && out_h > 0, "warp_normalize: output size ", out_w, "x", out_h);
  const pose::Affine inv = image_to_input.inverse();
  const int W = img.width, H = img.height;
  const size_t plane = static_cast<size_t>(out_w) * out_h;
  const float scale[3] = {1.0f / std[0], 1.0f / std[1], 1.0f / std[2]};
  const float shift[3] = {-mean[0] / std[0], -mean[1] / std[1], -mean[2] / std[2]};
  const uint8_t* px = img.pixels.data();
  for (int y = 0; y < out_h; ++y) {
    for (int x = 0; x < out_w; ++x) {
      const double sx = inv.m[0] * x + inv.m[1] * y + inv.m[2];
      const double sy = inv.m[3] * x + inv.m[4] * y + inv.m[5];
      const double fx0 = std::floor(sx), fy0 = std::floor(sy);
      const float ax = static_cast<float>(sx - fx0), ay = static_cast<float>(sy - fy0);
      float acc[3] = {0, 0, 0};
      // Beyond +-2^30 the corners are off the image anyway; clamping keeps the int conversion defined.
      const int x0 = static_cast<int>(std::clamp(fx0, -2.0, W + 1.0));
      const int y0 = static_cast<int>(std::clamp(fy0, -2.0, H + 1.0));
      const float wts[4] = {(1 - ax) * (1 - ay), ax * (1 - ay), (1 - ax) * ay, ax * ay};
      if (x0 >= 0 && y0 >= 0 && x0 + 1 < W && y0 + 1 < H) {
        const uint8_t* p00 = px + (static_cast<size_t>(y0) * W + x0) * 3;
        const uint8_t* p10 = p00 + 3;
        const uint8_t* p01 = p00 + static_cast<size_t>(W) * 3;
        const uint8_t* p11 = p01 + 3;
        for (int c = 0; c < 3; ++c) acc[c] = wts[0] * p00[c] + wts[1] * p10[c] + wts[2] * p01[c] + wts[3] * p11[c];
      } else {
        for (int corner = 0; corner < 4; ++corner) {
          const int cx = x0 + (corner & 1), cy = y0 + (corner >> 1);
          if (cx < 0 || cy < 0 || cx >= W || cy >= H) continue;
          const uint8_t* p = px + (static_cast<size_t>(cy) * W + cx) * 3;
          for (int c = 0; c < 3; ++c) acc[c] += wts[corner] * p[c];
        }
      }
      const size_t o = static_cast<size_t>(y) * out_w + x;
      for (int c = 0; c < 3; ++c) chw[c * plane + o] = acc[c] * scale[c] + shift[c];
    }
  }
}

TopDownDataset::TopDownDataset(std::vector<PersonInstance> instances, const pose::KeypointSet& keypoints,
                               TopDownConfig config)
    : instances_(std::move(instances)), keypoints_(&keypoints), config_(std::move(config)) {
  config_.codec.validate();
  half_body_ = half_body_ids(keypoints);
  const size_t want = static_cast<size_t>(keypoints.size()) * 3;
  for (size_t i = 0; i < instances_.size(); ++i) {
    const PersonInstance& p = instances_[i];
    check(p.keypoints.empty() || p.keypoints.size() == want, "TopDownDataset: instance ", i, " (annotation ",
          p.annotation_id, ", image '", p.image_path, "') has ", p.keypoints.size(), " keypoint values, expected ",
          want, " for ", keypoints.name);
    check(p.bbox.w > 0 && p.bbox.h > 0, "TopDownDataset: instance ", i, " (annotation ", p.annotation_id,
          ", image '", p.image_path, "') has an empty box ", p.bbox.w, "x", p.bbox.h);
  }
}

const PersonInstance& TopDownDataset::instance(int64_t i) const {
  check(i >= 0 && i < size(), "TopDownDataset: index ", i, " out of range [0, ", size(), ")");
  return instances_[static_cast<size_t>(i)];
}

void TopDownDataset::make_sample(int64_t index, Generator& gen, const SampleBuffers& out, SampleMeta& meta) const {
  const PersonInstance& inst = instance(index);
  const Image img = read_image(inst.image_path, 3);  // its errors name the file already
  try {
    make_sample(img, inst, gen, out, meta);
  } catch (const Error& e) {  // a box of 1e300 pixels: say which person, not only "singular matrix"
    fail(inst.image_path, ": annotation ", inst.annotation_id, " (box [", inst.bbox.x, ", ", inst.bbox.y, ", ",
         inst.bbox.w, ", ", inst.bbox.h, "]): ", e.what());
  }
}

void TopDownDataset::make_sample(const Image& img, const PersonInstance& inst, Generator& gen,
                                 const SampleBuffers& out, SampleMeta& meta) const {
  const int K = keypoints_->size();
  CropState s;
  s.keypoints.resize(K);
  s.visible.assign(K, 0.0f);
  if (!inst.keypoints.empty()) {
    for (int k = 0; k < K; ++k) {
      s.keypoints[k] = {inst.keypoints[3 * k], inst.keypoints[3 * k + 1]};
      s.visible[k] = inst.keypoints[3 * k + 2] > 0 ? 1.0f : 0.0f;
    }
  }
  const pose::CenterScale cs =
      pose::box_to_center_scale(inst.bbox.x, inst.bbox.y, inst.bbox.w, inst.bbox.h, config_.box_padding);
  s.center = cs.center;
  s.scale = cs.scale;
  if (config_.augment) {
    random_flip(s, img.width, keypoints_->flip_index, config_.aug.flip_prob, gen);
    random_half_body(s, half_body_, config_.aug, gen);
    random_box_transform(s, config_.aug, gen);
  }
  const pose::HeatmapCodec& codec = config_.codec;
  // The crop is computed in the flipped frame, where the keypoints and centre now live. Rather than
  // flipping the image, the warp samples the original through flip-then-crop.
  const pose::Affine crop = crop_affine(s, codec);
  const pose::Affine image_to_input = s.flipped ? crop.after(pose::horizontal_flip(img.width)) : crop;
  warp_normalize(img, image_to_input, codec.input_w, codec.input_h, config_.mean, config_.std, out.image);
  std::vector<pose::Point2> in_input(K);
  for (int k = 0; k < K; ++k) in_input[k] = crop.apply(s.keypoints[k]);
  pose::encode_heatmaps(codec, in_input, s.visible, out.heatmaps, out.weights);

  meta.image_id = inst.image_id;
  meta.annotation_id = inst.annotation_id;
  meta.box_score = inst.box_score;
  meta.center = s.center;
  meta.scale = s.scale;
  meta.rotation = s.rotation;
  meta.flipped = s.flipped;
  meta.image_to_input = image_to_input;
  meta.input_keypoints = std::move(in_input);
  meta.visible = std::move(s.visible);
}

TopDownSample TopDownDataset::sample(int64_t index, Generator& gen) const {
  const pose::HeatmapCodec& c = config_.codec;
  const int64_t K = num_keypoints();
  TopDownSample s;
  s.image = Tensor::empty({3, c.input_h, c.input_w});
  s.heatmaps = c.encoding == pose::HeatmapEncoding::Megvii ? Tensor::empty({c.num_targets(), K, c.heatmap_h, c.heatmap_w})
                                                           : Tensor::empty({K, c.heatmap_h, c.heatmap_w});
  s.weights = Tensor::empty({K});
  make_sample(index, gen, {s.image.data<float>(), s.heatmaps.data<float>(), s.weights.data<float>()}, s.meta);
  return s;
}

Batch TopDownDataset::allocate(int64_t rows) const {
  const pose::HeatmapCodec& c = config_.codec;
  const int64_t K = num_keypoints();
  Batch batch;
  batch.images = Tensor::empty_pinned({rows, 3, c.input_h, c.input_w});
  batch.heatmaps = c.encoding == pose::HeatmapEncoding::Megvii
                       ? Tensor::empty_pinned({rows, c.num_targets(), K, c.heatmap_h, c.heatmap_w})
                       : Tensor::empty_pinned({rows, K, c.heatmap_h, c.heatmap_w});
  batch.weights = Tensor::empty_pinned({rows, K});
  batch.meta.resize(static_cast<size_t>(rows));
  return batch;
}

void TopDownDataset::make_row(int64_t index, Generator& gen, Batch& batch, int64_t row) const {
  const int64_t image_size = batch.images.numel() / batch.images.size(0);
  const int64_t target_size = batch.heatmaps.numel() / batch.heatmaps.size(0);
  const int64_t K = batch.weights.size(1);
  const SampleBuffers out{batch.images.data<float>() + row * image_size,
                          batch.heatmaps.data<float>() + row * target_size, batch.weights.data<float>() + row * K};
  make_sample(index, gen, out, batch.meta[static_cast<size_t>(row)]);
}

}  // namespace wb::data
