// The zoom family (ZoomNet, spec/zoomnas.md §1, docs/zoomnet.md): BodyNet on the person crop, then
// RoIAlign of the face and hands into their own heads. Trains with pose::zoomnet_loss on the crop's
// keypoints (the head targets live in the RoIs the network predicts in the same pass; parts body,
// face, hand) and predicts through pose::zoomnet_predict. Its crops and body decoding use the MSRA
// geometry. The ZoomNAS supernet (nas/elastic_zoomnet.h) exports its sub-networks as this family's
// models.
#pragma once
#include "pose/models/zoomnet_pipeline.h"
#include "tasks/family.h"

namespace wb::tasks {

const PoseFamily& zoomnet_family();

// A batch as pose::zoomnet_loss takes it: `images` (the batch's, already on the model's device) with
// the samples' keypoints in input pixels.
pose::ZoomBatch zoom_batch(const data::Batch& batch, const Tensor& images);

}  // namespace wb::tasks
