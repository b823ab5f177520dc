// The ZoomNet-level supernet (spec/zoomnas.md §2, docs/nas.md): BodyNet, the FaceHead and the
// HandHead of the largest sub-network of a ZoomNasSpace, run as any sub-network of it by the
// elastic walker (nas/elastic.h's slicing rules) with the heads' connection live: the feature
// stage the RoIs are cropped from (one adapter per feature-stage choice, sliced by its leading
// input channels: the stages differ in width and meaning) and the RoI expansion.
#pragma once
#include <array>
#include <memory>
#include <vector>

#include "nas/space.h"
#include "nn/module.h"
#include "pose/models/zoomnet.h"
#include "pose/models/zoomnet_pipeline.h"
#include "tensor/generator.h"

namespace wb::nas {

struct ZoomSandwichOptions {
  int random_subnets = 2;
  double distill_weight = 1.0;  // student loss = its GT loss + distill_weight x MSE to the largest's body heatmaps
  // Non-empty (one per person, in the batch's largest-size input pixels): every sub-network's heads
  // read these RoIs, mapped to its input size, instead of its predicted ones (as zoomnet_loss's
  // `rois`: for tests that need a loss smooth in the weights; training leaves it empty).
  std::vector<pose::ZoomRois> fixed_rois;
};

struct ZoomSandwichResult {
  std::vector<pose::ZoomNetConfig> configs;  // largest, smallest, then the random ones
  std::vector<double> losses;                // total loss of each (same order)
  std::array<double, 3> largest_parts{};     // the largest's body, face, hand loss
};

class ZoomSupernet;  // the module holding every shared weight (nas/elastic_zoomnet.cpp)

class ElasticZoomNet {
 public:
  // The supernet of `space` (nas/space.h) around `base` (keypoint counts, sigma, min_roi_side):
  // the weights of the largest sub-network, plus an adapter per feature-stage choice of each head.
  ElasticZoomNet(const ZoomNasSpace& space, const pose::ZoomNetConfig& base);
  ~ElasticZoomNet();

  // Every shared weight: parameters(), state_dict(), to(device), train()/eval(), checkpoints.
  nn::Module& module();
  const ZoomNasSpace& space() const { return space_; }
  pose::ZoomNetConfig largest() const { return largest_; }  // sample_zoomnet(space, base, Pick::Largest)
  // MMPose's HRNet initialisation, as pose::ZoomNet::init_weights (every adapter included).
  void init_weights(Generator& gen);
  // Throws when `active` is no sub-network of the supernet; the message names the field.
  void check_fits(const pose::ZoomNetConfig& active) const;

  // Sub-network `active` on person crops [N, 3, H, W] at active.body.input_size: what
  // pose::ZoomNet::run does for a plain model (RoIs decoded from its own body heatmaps unless
  // given). Training mode (module().is_training()): BN uses batch statistics and leaves the
  // running ones alone. Gradients reach only the active slices and the active adapters.
  pose::ZoomOutputs run(const Tensor& images, const pose::ZoomNetConfig& active,
                        const std::vector<pose::ZoomRois>* rois = nullptr);

  // A plain pose::ZoomNet of `active` with copies of the weights it uses (BN running statistics
  // copied as they are: recalibrate before evaluating). In eval mode its run() equals run(…, active).
  std::shared_ptr<pose::ZoomNet> export_subnet(const pose::ZoomNetConfig& active);

 private:
  pose::ZoomOutputs walk(const Tensor& images, const pose::ZoomNetConfig& active,
                         const std::vector<pose::ZoomRois>* rois, bool training, TensorMap* record);

  ZoomNasSpace space_;
  pose::ZoomNetConfig largest_;
  std::shared_ptr<ZoomSupernet> module_;
};

// The batch as a sub-network at input size h x w sees it: images resized bilinearly (align_corners
// false), keypoints and `rois` (BodyNet input pixels) mapped with the same pixel-centre convention,
// x' = (x + 0.5) w / W - 0.5, so they stay on the image content they label. The sandwich's resizing.
struct ResizedZoomBatch {
  pose::ZoomBatch batch;
  std::vector<pose::ZoomRois> rois;  // `rois` mapped likewise (empty when none were given)
};
ResizedZoomBatch resize_zoom_batch(const pose::ZoomBatch& batch, const std::vector<pose::ZoomRois>& rois, int64_t h,
                                   int64_t w);

// One sandwich step's forward and backward passes (the caller zero_grads before and steps the
// optimizer after): the largest on `batch` (at the largest input size), then the smallest and
// `random_subnets` uniform ones, each on the batch resized to its input size (images bilinearly,
// keypoints mapped with the pixel-centre convention). Gradients accumulate in the shared weights.
// Random draws come from `gen` only. The supernet must be in training mode.
ZoomSandwichResult zoom_sandwich_backward(ElasticZoomNet& super, const pose::ZoomBatch& batch, Generator& gen,
                                          const ZoomSandwichOptions& options = {});

}  // namespace wb::nas
