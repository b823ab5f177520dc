// What a trainer and an evaluator call for ZoomNet (docs/zoomnet.md):
//   zoomnet_loss     L = L_body(38) + L_face(68) + L_hand(21), each MMPose's KeypointMSELoss (mean of
//                    w (pred - target)^2) with per-keypoint weights masking what is not labelled; the
//                    face and hand targets are rendered in the frames of the RoIs the network itself
//                    predicted in this forward pass (spec/zoomnas.md §1.5).
//   zoomnet_predict  133 whole-body keypoints per person in image pixels, with an optional flip test
//                    that runs the whole pipeline again on the mirrored crop.
#pragma once
#include <vector>

#include "pose/affine.h"
#include "pose/heatmap_codec.h"
#include "pose/models/zoomnet.h"
#include "tensor/tensor.h"

namespace wb::pose {

// One batch of person crops with their whole-body labels in BodyNet input pixels (the crop frame
// after augmentation: keypoints already mapped through the person affine and flip-permuted).
struct ZoomBatch {
  Tensor images;                               // [N, 3, H, W] on the model's device and dtype
  std::vector<std::vector<Point2>> keypoints;  // N x 133
  std::vector<std::vector<float>> visible;     // N x 133, > 0 labelled
};

struct ZoomLoss {
  Tensor total;             // 0-d, body + face + hand
  Tensor body, face, hand;  // 0-d each (part of the graph: total is their sum)
};

// The loss of one batch, in the model's current mode. `rois` (N entries) replaces the predicted
// RoIs, for tests that need a loss that is smooth in the inputs (the predicted boxes come from an
// argmax and are piecewise constant).
ZoomLoss zoomnet_loss(ZoomNet& model, const ZoomBatch& batch, const std::vector<ZoomRois>* rois = nullptr);
// The same loss of outputs a model of `config` gave on batch.images (what the model version calls;
// nas/'s supernet scores its sub-networks with it).
ZoomLoss zoomnet_loss(const ZoomNetConfig& config, const ZoomOutputs& out, const ZoomBatch& batch);

// The 133 keypoints of each person, BodyNet input pixels, from one pass (no flip).
std::vector<std::vector<DecodedKeypoint>> zoomnet_decode(const ZoomNet& model, const ZoomOutputs& out,
                                                         HeatmapDecoding decoding);

// Inference on person crops [N, 3, H, W] (the model should be in evaluation mode); no graph is
// recorded. image_to_input: the crop affine of each person (pose/affine.h). With flip_test, the
// crops are mirrored, run through the whole pipeline (BodyNet, boxes, RoIs, heads), the keypoints
// mirrored back (x -> W - 1 - x) and their left/right partners swapped, and each keypoint's position
// and score averaged with the unflipped pass. Result: N x 133 in image pixels.
std::vector<std::vector<DecodedKeypoint>> zoomnet_predict(ZoomNet& model, const Tensor& images,
                                                          const std::vector<Affine>& image_to_input, bool flip_test,
                                                          HeatmapDecoding decoding = HeatmapDecoding::Shift);

// [N, C, H, W] mirrored left to right (a copy through the CPU; data only, no gradient).
Tensor flip_images(const Tensor& images);

}  // namespace wb::pose
