#include "pose/models/zoomnet_pipeline.h"

#include <cstring>

#include "autograd/node.h"
#include "autograd/ops_basic.h"
#include "autograd/ops_pose.h"
#include "pose/keypoints.h"
#include "tensor/error.h"

namespace wb::pose {

namespace {

// Per-sample targets stacked into [N, K, h, w] and [N, K], in `like`'s dtype and device.
struct Stacked {
  Tensor heatmaps, weights;
};

Stacked stack(const std::vector<HeatmapTargets>& t, const Tensor& like) {
  const Shape& s = t.front().heatmaps.shape();  // [K, h, w]
  const int64_t n = static_cast<int64_t>(t.size());
  Tensor hm = Tensor::empty({n, s[0], s[1], s[2]});
  Tensor w = Tensor::empty({n, s[0]});
  const int64_t plane = s[0] * s[1] * s[2];
  for (int64_t i = 0; i < n; ++i) {
    std::memcpy(hm.data<float>() + i * plane, t[i].heatmaps.data<float>(), sizeof(float) * plane);
    std::memcpy(w.data<float>() + i * s[0], t[i].weights.data<float>(), sizeof(float) * s[0]);
  }
  return {hm.to(like.dtype()).to(like.device()), w.to(like.dtype()).to(like.device())};
}

Tensor part_loss(const Tensor& pred, const std::vector<HeatmapTargets>& t) {
  const Stacked s = stack(t, pred);
  return ops::heatmap_mse_loss(pred, s.heatmaps, s.weights);
}

std::vector<DecodedKeypoint> decode_one(const HeatmapCodec& codec, const Tensor& heatmaps) {
  return decode_heatmaps(codec, heatmaps.detach().to(Device::cpu()).to(DType::F32).contiguous());
}

}  // namespace

namespace {

void check_batch(const ZoomBatch& batch) {
  const int64_t n = batch.images.defined() && batch.images.dim() == 4 ? batch.images.size(0) : -1;
  check(n > 0 && static_cast<int64_t>(batch.keypoints.size()) == n && static_cast<int64_t>(batch.visible.size()) == n,
        "zoomnet_loss: images ", batch.images.defined() ? batch.images.str() : "undefined", " with ",
        batch.keypoints.size(), " keypoint sets and ", batch.visible.size(), " visibility sets");
}

}  // namespace

ZoomLoss zoomnet_loss(ZoomNet& model, const ZoomBatch& batch, const std::vector<ZoomRois>* rois) {
  check_batch(batch);
  return zoomnet_loss(model.config(), model.run(batch.images, rois), batch);
}

ZoomLoss zoomnet_loss(const ZoomNetConfig& config, const ZoomOutputs& out, const ZoomBatch& batch) {
  check_batch(batch);
  const int64_t n = batch.images.size(0);
  check(out.body.defined() && out.body.size(0) == n && static_cast<int64_t>(out.rois.size()) == n,
        "zoomnet_loss: outputs for ", out.rois.size(), " persons, the batch has ", n);
  const HeatmapCodec codec = zoom_body_codec(config);
  const double sigma = config.sigma;
  std::vector<HeatmapTargets> body, face, hands;
  for (int64_t i = 0; i < n; ++i) {
    const auto& k = batch.keypoints[i];
    const auto& v = batch.visible[i];
    body.push_back(body_targets(codec, k, v));
    auto frame = [&](ZoomPart p) { return RoiFrame{out.rois[i][p], zoom_head_size(config, p)}; };
    face.push_back(head_targets(frame(ZoomPart::Face), sigma, ZoomPart::Face, k, v));
    for (ZoomPart p : {ZoomPart::LeftHand, ZoomPart::RightHand}) hands.push_back(head_targets(frame(p), sigma, p, k, v));
  }
  ZoomLoss l;
  l.body = part_loss(out.body, body);
  l.face = part_loss(out.face, face);
  l.hand = part_loss(out.hands, hands);
  l.total = ops::add(ops::add(l.body, l.face), l.hand);
  return l;
}

std::vector<std::vector<DecodedKeypoint>> zoomnet_decode(const ZoomNet& model, const ZoomOutputs& out,
                                                         HeatmapDecoding decoding) {
  HeatmapCodec body = model.body_codec();
  body.decoding = decoding;
  const double sigma = model.config().sigma;
  std::vector<std::vector<DecodedKeypoint>> result;
  for (int64_t n = 0; n < out.body.size(0); ++n) {
    std::vector<DecodedKeypoint> k = decode_one(body, out.body.select(0, n).narrow(0, 0, kZoomBodyKeypoints));
    // The parts in whole-body order (face, left hand, right hand), each from its head's frame.
    const std::pair<ZoomPart, Tensor> parts[] = {{ZoomPart::Face, out.face.select(0, n)},
                                                 {ZoomPart::LeftHand, out.hands.select(0, 2 * n)},
                                                 {ZoomPart::RightHand, out.hands.select(0, 2 * n + 1)}};
    for (const auto& [part, heatmaps] : parts) {
      check(static_cast<int>(k.size()) == part_begin(part), "zoomnet_decode: keypoint order");
      const RoiFrame frame = model.frame(out.rois[n], part);
      HeatmapCodec head = head_codec(frame.out, sigma);
      head.decoding = decoding;
      for (DecodedKeypoint d : decode_one(head, heatmaps)) {
        d.xy = frame.head_to_input(d.xy);
        k.push_back(d);
      }
    }
    result.push_back(std::move(k));
  }
  return result;
}

Tensor flip_images(const Tensor& images) {
  check(images.dim() == 4, "flip_images: expected [N, C, H, W], got ", images.str());
  const Tensor src = images.detach().to(Device::cpu()).to(DType::F64).contiguous();
  Tensor dst = Tensor::empty(src.shape(), DType::F64);
  const int64_t rows = src.size(0) * src.size(1) * src.size(2), w = src.size(3);
  const double* s = src.data<double>();
  double* d = dst.data<double>();
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t x = 0; x < w; ++x) d[r * w + x] = s[r * w + (w - 1 - x)];
  }
  return dst.to(images.dtype()).to(images.device());
}

std::vector<std::vector<DecodedKeypoint>> zoomnet_predict(ZoomNet& model, const Tensor& images,
                                                          const std::vector<Affine>& image_to_input, bool flip_test,
                                                          HeatmapDecoding decoding) {
  check(images.dim() == 4 && static_cast<int64_t>(image_to_input.size()) == images.size(0), "zoomnet_predict: images ",
        images.str(), " with ", image_to_input.size(), " crop affines");
  autograd::NoGradGuard no_grad;
  std::vector<std::vector<DecodedKeypoint>> k = zoomnet_decode(model, model.run(images), decoding);
  if (flip_test) {
    const std::vector<std::vector<DecodedKeypoint>> f = zoomnet_decode(model, model.run(flip_images(images)), decoding);
    const std::vector<int>& flip = coco_wholebody().flip_index;
    const double last = static_cast<double>(images.size(3) - 1);
    for (size_t n = 0; n < k.size(); ++n) {
      for (size_t i = 0; i < k[n].size(); ++i) {
        // Point i of the mirrored crop is point flip[i] of the original, at x -> W - 1 - x.
        const DecodedKeypoint& m = f[n][flip[i]];
        DecodedKeypoint& d = k[n][i];
        d.xy = {(d.xy.x + last - m.xy.x) / 2, (d.xy.y + m.xy.y) / 2};
        d.score = (d.score + m.score) / 2;
      }
    }
  }
  for (size_t n = 0; n < k.size(); ++n) k[n] = crop_to_image(k[n], image_to_input[n]);
  return k;
}

}  // namespace wb::pose
