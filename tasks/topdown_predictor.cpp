#include "tasks/topdown_predictor.h"

#include <algorithm>
#include <cmath>
#include <exception>
#include <map>
#include <memory>
#include <sstream>

#include "autograd/node.h"
#include "datasets/image.h"
#include "datasets/pose_nms.h"
#include "tensor/error.h"

namespace wb::tasks {
namespace {

// One decoded pose and the area OKS-NMS uses for it: the crop region (padded, aspect-fixed box),
// as MMPose's bbox_scales.
struct RawPose {
  data::KeypointResult result;
  double area = 0;
};

void check_options(const PredictOptions& o) {
  o.codec.validate();
  check(o.keypoints != nullptr, "predict: no keypoint set given");
  check(o.batch_size >= 1, "predict: batch_size ", o.batch_size, " must be at least 1");
  check(o.box_padding > 0, "predict: box_padding ", o.box_padding, " must be positive");
}

// The crops [N, 3, H, W] mirrored left to right, on their device: the flip test's input.
Tensor mirrored(const Tensor& crops) {
  const Tensor src = crops.to(Device::cpu()).to(DType::F32).contiguous();
  Tensor dst = Tensor::empty(src.shape());
  const int64_t rows = src.numel() / src.size(3), w = src.size(3);
  const float* s = src.data<float>();
  float* d = dst.data<float>();
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t x = 0; x < w; ++x) d[r * w + x] = s[r * w + (w - 1 - x)];
  }
  return dst.to(crops.device());
}

// The evaluation crop of one instance into `chw` (3 x input_h x input_w), its image-to-input map and
// the area of the region it covers (the padded, aspect-fixed box: MMPose's bbox_scales product).
void crop_one(const data::PersonInstance& inst, const data::Image& img, const PredictOptions& o, float* chw,
              pose::Affine& image_to_input, double& area) {
  const pose::CenterScale cs =
      pose::box_to_center_scale(inst.bbox.x, inst.bbox.y, inst.bbox.w, inst.bbox.h, o.box_padding);
  data::CropState s;
  s.center = cs.center;
  s.scale = cs.scale;
  image_to_input = data::crop_affine(s, o.codec);
  area = s.scale.x * s.scale.y;
  data::warp_normalize(img, image_to_input, o.codec.input_w, o.codec.input_h, o.mean, o.std, chw);
}

// Runs the model on a CPU batch and returns its heatmaps on the CPU, checking their shape.
Tensor run_model(nn::Module& model, const PredictOptions& o, const Tensor& batch) {
  const Tensor out = model(batch.to(o.device)).cpu().contiguous();
  const int64_t n = batch.size(0);
  check(out.dim() == 4 && out.size(0) == n && out.size(1) == o.keypoints->size() &&
            out.size(2) == o.codec.heatmap_h && out.size(3) == o.codec.heatmap_w && out.dtype() == DType::F32,
        "predict: the model returned ", out.str(), " for a batch of ", n, "; expected [", n, ", ",
        o.keypoints->size(), ", ", o.codec.heatmap_h, ", ", o.codec.heatmap_w, "] f32 (", o.keypoints->name,
        " keypoints, heatmaps of the codec)");
  return out;
}

// One instance's decoded keypoints (image pixels) as its result.
void fill_pose(const data::PersonInstance& inst, const std::vector<pose::DecodedKeypoint>& decoded, double area,
               RawPose& p) {
  p.area = area;
  p.result.image_id = inst.image_id;
  p.result.category_id = 1;
  p.result.score = inst.box_score;
  p.result.bbox = inst.bbox;
  p.result.keypoints.resize(3 * decoded.size());
  for (size_t k = 0; k < decoded.size(); ++k) {
    p.result.keypoints[3 * k] = decoded[k].xy.x;
    p.result.keypoints[3 * k + 1] = decoded[k].xy.y;
    p.result.keypoints[3 * k + 2] = decoded[k].score;
  }
}

std::vector<RawPose> run_instances(nn::Module& model, const PredictOptions& o,
                                   const std::vector<data::PersonInstance>& instances) {
  check_options(o);
  // Evaluation mode for the run (BatchNorm on running statistics: results must not depend on the
  // batch), the caller's mode restored afterwards, also on error.
  struct EvalModeGuard {
    nn::Module& m;
    bool was_training;
    ~EvalModeGuard() { m.train(was_training); }
  } mode_guard{model, model.is_training()};
  model.eval();
  const pose::HeatmapCodec& codec = o.codec;
  const int64_t total = static_cast<int64_t>(instances.size());
  const int64_t plane = static_cast<int64_t>(3) * codec.input_h * codec.input_w;
  autograd::NoGradGuard no_grad;

  std::vector<RawPose> poses(instances.size());
  std::string loaded_path;
  auto loaded = std::make_shared<data::Image>();
  for (int64_t first = 0; first < total; first += o.batch_size) {
    const int64_t n = std::min<int64_t>(o.batch_size, total - first);
    // Images are read in order (instances of one image are usually adjacent), crops warped in parallel.
    std::vector<std::shared_ptr<const data::Image>> images(n);
    for (int64_t i = 0; i < n; ++i) {
      const data::PersonInstance& inst = instances[first + i];
      if (inst.image_path != loaded_path) {
        loaded = std::make_shared<data::Image>(data::read_image(inst.image_path, 3));
        loaded_path = inst.image_path;
      }
      images[i] = loaded;
      const data::Box& b = inst.bbox;
      check(std::isfinite(b.x) && std::isfinite(b.y) && std::isfinite(b.w) && std::isfinite(b.h) && b.w > 0 &&
                b.h > 0,
            "predict: instance #", first + i, " (image ", inst.image_id, ") has an unusable box [", b.x, ", ", b.y,
            ", ", b.w, ", ", b.h, "]");
    }
    Tensor batch = Tensor::empty({n, 3, codec.input_h, codec.input_w});
    std::vector<pose::Affine> affines(n);
    std::vector<double> areas(n);
    // An exception must not leave an OpenMP region: the first one is kept and rethrown after it.
    std::exception_ptr crop_error;
#pragma omp parallel for schedule(dynamic)
    for (int64_t i = 0; i < n; ++i) {
      try {
        crop_one(instances[first + i], *images[i], o, batch.data<float>() + i * plane, affines[i], areas[i]);
      } catch (const Error& e) {
        // Name the person: a box of 1e300 pixels alone says only "singular matrix".
        const data::PersonInstance& inst = instances[first + i];
        std::ostringstream what;
        what << "predict: instance #" << first + i << " (image " << inst.image_id << ", box [" << inst.bbox.x << ", "
             << inst.bbox.y << ", " << inst.bbox.w << ", " << inst.bbox.h << "]): " << e.what();
#pragma omp critical(wbpose_predict_crop)
        if (!crop_error) crop_error = std::make_exception_ptr(Error(what.str()));
      } catch (...) {
#pragma omp critical(wbpose_predict_crop)
        if (!crop_error) crop_error = std::current_exception();
      }
    }
    if (crop_error) std::rethrow_exception(crop_error);

    const Tensor crops = batch.to(o.device);
    const auto decoded = o.family != nullptr ? o.family->predict_crops(model, crops, affines, o)
                                             : heatmap_predict_crops(model, crops, affines, o);
    check(static_cast<int64_t>(decoded.size()) == n, "predict: ", decoded.size(), " poses for a batch of ", n);
    // NaN weights give NaN heatmaps, and a results file of nulls that no scorer reads: stop here.
    for (int64_t i = 0; i < n; ++i) {
      for (const pose::DecodedKeypoint& k : decoded[i]) {
        check(std::isfinite(k.xy.x) && std::isfinite(k.xy.y) && std::isfinite(k.score), "predict: the model's output for ",
              "instance #", first + i, " (image ", instances[first + i].image_id,
              ") is not finite (NaN or Inf): are the weights finite?");
      }
    }
    for (int64_t i = 0; i < n; ++i) fill_pose(instances[first + i], decoded[i], areas[i], poses[first + i]);
    if (o.progress) o.progress(first + n, total);
  }
  return poses;
}

}  // namespace

std::vector<std::vector<pose::DecodedKeypoint>> heatmap_predict_crops(nn::Module& model, const Tensor& crops,
                                                                      const std::vector<pose::Affine>& image_to_input,
                                                                      const PredictOptions& o) {
  const pose::HeatmapCodec& codec = o.codec;
  const int64_t n = crops.size(0);
  Tensor heatmaps = run_model(model, o, crops);
  if (o.flip_test) {
    Tensor flipped = run_model(model, o, mirrored(crops));
    flip_back_heatmaps(flipped, o.keypoints->flip_index, o.shift_flipped_heatmap);
    float* a = heatmaps.data<float>();
    const float* b = flipped.data<float>();
    for (int64_t j = 0; j < heatmaps.numel(); ++j) a[j] = 0.5f * (a[j] + b[j]);
  }
  std::vector<std::vector<pose::DecodedKeypoint>> out(n);
  for (int64_t i = 0; i < n; ++i) {
    out[i] = pose::crop_to_image(pose::decode_heatmaps(codec, heatmaps.select(0, i)), image_to_input[i]);
  }
  return out;
}

void flip_back_heatmaps(Tensor& heatmaps, const std::vector<int>& flip_index, bool shift) {
  check(heatmaps.dim() == 4 && heatmaps.dtype() == DType::F32 && heatmaps.device().is_cpu() &&
            heatmaps.is_contiguous(),
        "flip_back_heatmaps: expects contiguous [N, K, h, w] f32 CPU heatmaps, got ", heatmaps.str());
  const int64_t N = heatmaps.size(0), K = heatmaps.size(1), h = heatmaps.size(2), w = heatmaps.size(3);
  check(static_cast<int64_t>(flip_index.size()) == K, "flip_back_heatmaps: ", K, " heatmaps but a flip index of ",
        flip_index.size(), " keypoints");
  const Tensor src = heatmaps.clone();
  const int64_t plane = h * w;
  for (int64_t n = 0; n < N; ++n) {
    for (int64_t k = 0; k < K; ++k) {
      const float* in = src.data<float>() + (n * K + flip_index[k]) * plane;
      float* out = heatmaps.data<float>() + (n * K + k) * plane;
      for (int64_t y = 0; y < h; ++y) {
        for (int64_t x = 0; x < w; ++x) {
          // Mirrored column x is w-1-x; the shift then reads it from one column to the left (MMPose:
          // heatmaps[..., 1:] = heatmaps[..., :-1], column 0 unchanged).
          const int64_t from = shift && x > 0 ? x - 1 : x;
          out[y * w + x] = in[y * w + (w - 1 - from)];
        }
      }
    }
  }
}

PredictOptions predict_options_for(const pose::HeatmapCodec& codec, const pose::KeypointSet& keypoints, bool flip_test,
                                   const PoseFamily* family) {
  PredictOptions p;
  p.family = family;
  p.codec = codec;
  p.keypoints = &keypoints;
  p.flip_test = flip_test;
  p.shift_flipped_heatmap = codec.encoding == pose::HeatmapEncoding::Msra;
  return p;
}

PredictOptions prepare_for_prediction(ModelSpec& spec, std::optional<pose::HeatmapDecoding> decoding, bool flip_test,
                                      const std::string& device, int batch_size) {
  pose::HeatmapCodec codec = spec.codec;
  if (decoding) codec.decoding = *decoding;
  PredictOptions p = predict_options_for(codec, *spec.keypoints, flip_test, spec.family);
  p.device = parse_run_device(device);
  p.batch_size = batch_size;
  spec.model->to(p.device);
  spec.model->eval();
  return p;
}

std::vector<data::KeypointResult> predict_instances(nn::Module& model, const PredictOptions& options,
                                                    const std::vector<data::PersonInstance>& instances) {
  std::vector<RawPose> poses = run_instances(model, options, instances);
  std::vector<data::KeypointResult> out;
  out.reserve(poses.size());
  for (RawPose& p : poses) out.push_back(std::move(p.result));
  return out;
}

std::vector<data::KeypointResult> predict(nn::Module& model, const PredictOptions& options,
                                          const std::vector<data::PersonInstance>& instances) {
  std::vector<RawPose> poses = run_instances(model, options, instances);
  const int K = options.keypoints->size();
  std::vector<double> scores(K);
  // Group by image in order of first appearance.
  std::vector<int64_t> image_order;
  std::map<int64_t, std::vector<size_t>> by_image;
  for (size_t i = 0; i < poses.size(); ++i) {
    RawPose& p = poses[i];
    for (int k = 0; k < K; ++k) scores[k] = p.result.keypoints[3 * k + 2];
    p.result.score = data::bbox_keypoint_score(p.result.score, scores, options.keypoint_score_threshold);
    auto [it, fresh] = by_image.try_emplace(p.result.image_id);
    if (fresh) image_order.push_back(p.result.image_id);
    it->second.push_back(i);
  }
  std::vector<data::KeypointResult> out;
  for (int64_t image_id : image_order) {
    const std::vector<size_t>& members = by_image[image_id];
    std::vector<data::PoseCandidate> candidates;
    candidates.reserve(members.size());
    for (size_t i : members) candidates.push_back({poses[i].result.keypoints, poses[i].area, poses[i].result.score});
    for (size_t kept : data::oks_nms(candidates, options.nms_threshold, options.keypoints->sigmas)) {
      out.push_back(std::move(poses[members[kept]].result));
    }
  }
  return out;
}

PartTable evaluate(nn::Module& model, const PredictOptions& options, const data::CocoKeypointsFile& gt,
                   const std::vector<data::PersonInstance>& instances, const std::vector<std::string>& parts,
                   std::vector<data::KeypointResult>* results) {
  std::vector<data::KeypointResult> predicted = predict(model, options, instances);
  PartTable table = data::evaluate_wholebody(gt, predicted, parts);
  if (results) *results = std::move(predicted);
  return table;
}

}  // namespace wb::tasks
