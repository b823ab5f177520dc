// Heatmap targets and their decoding, MMPose 1.x codec semantics:
//   Msra   (MSRAHeatmap): a Gaussian of `sigma` heatmap pixels centred on the keypoint rounded to the
//          nearest heatmap pixel, cut off at 3 sigma, peak 1.
//   Udp    (UDPHeatmap, "unbiased data processing"): the same Gaussian centred on the exact sub-pixel
//          keypoint; input and heatmap pixel grids are aligned on their first and last pixel centres.
//   Megvii (MegviiHeatmap, MSPN/RSN): a one-pixel impulse blurred with OpenCV's Gaussian of each
//          kernel size in `kernel_sizes` (coarse to fine, one target per MSPN stage), peak 255.
// Every target comes with per-keypoint weights: the keypoint's visibility, set to 0 when the
// Gaussian falls entirely off the heatmap (or, for Megvii, the keypoint itself does).
// Decoding: argmax, then either the quarter-pixel shift toward the higher neighbour or DARK (a
// second-order Taylor step on the log of the Gaussian-blurred heatmap; UDP's variant for Udp).
// Keypoints go in and come out in network-input pixels; crop_to_image maps them to the image.
#pragma once
#include <vector>

#include "pose/affine.h"
#include "tensor/tensor.h"

namespace wb::pose {

enum class HeatmapEncoding { Msra, Udp, Megvii };
enum class HeatmapDecoding { Shift, Dark };
const char* encoding_name(HeatmapEncoding e);  // "msra", "udp", "megvii" (the configs' names)

struct HeatmapCodec {
  HeatmapEncoding encoding = HeatmapEncoding::Msra;
  HeatmapDecoding decoding = HeatmapDecoding::Shift;
  int input_w = 192, input_h = 256;   // network input, pixels
  int heatmap_w = 48, heatmap_h = 64;  // stride 4
  double sigma = 2.0;                  // Msra and Udp, in heatmap pixels
  std::vector<int> kernel_sizes{11, 9, 7, 5};  // Megvii only; odd sizes
  int blur_kernel = 11;  // DARK's modulation kernel and Megvii's decoding blur use their own sizes

  int num_targets() const { return encoding == HeatmapEncoding::Megvii ? static_cast<int>(kernel_sizes.size()) : 1; }
  void validate() const;  // errors name the offending field

  // Between network-input and heatmap pixels: a stride for Msra/Megvii, UDP's aligned grids for Udp.
  Point2 input_to_heatmap(Point2 p) const;
  Point2 heatmap_to_input(Point2 p) const;
};

// Renders targets for K keypoints given in network-input pixels. `visible[k] > 0` marks a labelled
// keypoint. heatmaps: num_targets() * K * heatmap_h * heatmap_w floats, fully overwritten; weights: K.
void encode_heatmaps(const HeatmapCodec& codec, const std::vector<Point2>& keypoints,
                     const std::vector<float>& visible, float* heatmaps, float* weights);

struct HeatmapTargets {
  Tensor heatmaps;  // [K, h, w], or [S, K, h, w] for Megvii with S kernel sizes
  Tensor weights;   // [K]
};
HeatmapTargets encode_heatmaps(const HeatmapCodec& codec, const std::vector<Point2>& keypoints,
                               const std::vector<float>& visible);

struct DecodedKeypoint {
  Point2 xy;     // network-input pixels (or image pixels after crop_to_image)
  double score;  // the heatmap maximum (Megvii: maximum / 255 + 0.5, as MMPose reports it)
};

// heatmaps: [K, h, w] f32 (any device; copied to the CPU). A keypoint whose heatmap has no positive
// value gets heatmap position (-1, -1) and no refinement, as in MMPose.
std::vector<DecodedKeypoint> decode_heatmaps(const HeatmapCodec& codec, const Tensor& heatmaps);

// From network-input pixels back to the image, through the inverse of the crop's image-to-input map.
std::vector<DecodedKeypoint> crop_to_image(const std::vector<DecodedKeypoint>& keypoints,
                                           const Affine& image_to_input);

// OpenCV getGaussianKernel(ksize, sigma <= 0): sigma = 0.3 ((ksize - 1) / 2 - 1) + 0.8, and OpenCV's
// fixed tables for ksize <= 7. Exposed for the tests.
std::vector<double> opencv_gaussian_kernel(int ksize);

}  // namespace wb::pose
