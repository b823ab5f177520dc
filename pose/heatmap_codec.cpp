#include "pose/heatmap_codec.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>

#include "tensor/error.h"

namespace wb::pose {

const char* encoding_name(HeatmapEncoding e) {
  switch (e) {
    case HeatmapEncoding::Msra: return "msra";
    case HeatmapEncoding::Udp: return "udp";
    case HeatmapEncoding::Megvii: return "megvii";
  }
  return "?";
}

namespace {

// numpy's astype(int64) on a float: truncation toward zero. MMPose's window and centre arithmetic
// depends on it (e.g. a keypoint at -0.3 heatmap px still counts as pixel 0).
int64_t trunc_int(double v) { return static_cast<int64_t>(v); }

// One Gaussian window in MMPose's generate_(udp_)gaussian_heatmaps: the 3-sigma square around the
// rounded centre `mu`, evaluated at distances from `peak` (mu itself for Msra, the exact keypoint for
// Udp), merged into the heatmap by maximum. MMPose evaluates the stamp on a grid whose centre is
// (2*3sigma + 1) // 2; for the integer 3-sigma of every published config that is exactly mu, for a
// fractional one MMPose's stamp is off by a pixel and ours stays centred. Returns false when the
// window misses the heatmap (the keypoint's weight becomes 0); like MMPose's test, a window that
// ends exactly at the left or top border (right == 0) still counts as touching it.
bool stamp_gaussian(float* hm, int w, int h, Point2 mu, Point2 peak, double sigma) {
  const double radius = 3.0 * sigma;
  const int64_t left = trunc_int(mu.x - radius), top = trunc_int(mu.y - radius);
  const int64_t right = trunc_int(mu.x + radius + 1), bottom = trunc_int(mu.y + radius + 1);
  if (left >= w || top >= h || right < 0 || bottom < 0) return false;
  const double inv = 1.0 / (2.0 * sigma * sigma);
  const int64_t x0 = std::max<int64_t>(left, 0), x1 = std::min<int64_t>(right, w);
  const int64_t y0 = std::max<int64_t>(top, 0), y1 = std::min<int64_t>(bottom, h);
  // The Gaussian factorises, exp(-(dx^2 + dy^2) k) = exp(-dx^2 k) exp(-dy^2 k): one exp per row and
  // column instead of one per pixel.
  std::vector<double> gx(static_cast<size_t>(std::max<int64_t>(x1 - x0, 0)));
  for (int64_t x = x0; x < x1; ++x) gx[x - x0] = std::exp(-(x - peak.x) * (x - peak.x) * inv);
  for (int64_t y = y0; y < y1; ++y) {
    const double gy = std::exp(-(y - peak.y) * (y - peak.y) * inv);
    float* row = hm + y * w;
    for (int64_t x = x0; x < x1; ++x) row[x] = std::max(row[x], static_cast<float>(gx[x - x0] * gy));
  }
  return true;
}

// OpenCV's BORDER_REFLECT_101 index (…, 2, 1 | 0, 1, 2, …, n-1 | n-2, …).
int64_t reflect101(int64_t i, int64_t n) {
  if (n == 1) return 0;
  while (i < 0 || i >= n) i = i < 0 ? -i : 2 * (n - 1) - i;
  return i;
}

// cv2.GaussianBlur(impulse at `at`, (k, k), 0) along one axis of length n: separable, so the 2-D
// result is the outer product of the two 1-D responses.
std::vector<double> blurred_impulse_1d(int64_t at, int64_t n, const std::vector<double>& g) {
  const int64_t r = static_cast<int64_t>(g.size()) / 2;
  std::vector<double> out(static_cast<size_t>(n), 0.0);
  for (int64_t x = 0; x < n; ++x)
    for (int64_t j = -r; j <= r; ++j)
      if (reflect101(x + j, n) == at) out[x] += g[j + r];
  return out;
}

// MMPose's gaussian_blur (used by DARK and by Megvii decoding): cv2.GaussianBlur on the heatmap padded
// with zeros by the kernel radius (so zero padding, exactly), then rescaled to the original maximum.
void modulate(const float* in, int w, int h, int ksize, std::vector<double>& out) {
  const std::vector<double> g = opencv_gaussian_kernel(ksize);
  const int r = ksize / 2;
  std::vector<double> rows(static_cast<size_t>(w) * h, 0.0);
  out.assign(static_cast<size_t>(w) * h, 0.0);
  double in_max = -INFINITY;
  for (int i = 0; i < w * h; ++i) in_max = std::max<double>(in_max, in[i]);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      double s = 0;
      for (int j = std::max(-r, -x); j <= std::min(r, w - 1 - x); ++j) s += g[j + r] * in[y * w + x + j];
      rows[y * w + x] = s;
    }
  double out_max = -INFINITY;
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      double s = 0;
      for (int j = std::max(-r, -y); j <= std::min(r, h - 1 - y); ++j) s += g[j + r] * rows[(y + j) * w + x];
      out[y * w + x] = s;
      out_max = std::max(out_max, s);
    }
  // An all-zero heatmap stays zero (MMPose would divide 0 by 0 here).
  if (out_max > 0)
    for (double& v : out) v *= in_max / out_max;
}

double sign(double v) { return v > 0 ? 1.0 : (v < 0 ? -1.0 : 0.0); }

// MMPose refine_keypoints: a quarter pixel toward the higher neighbour along x and y. The bounds are
// MMPose 1.x's own (x needs 1 < x < W-1; y only needs x inside).
void refine_shift(const float* hm, int w, int h, Point2& p) {
  const int x = static_cast<int>(p.x), y = static_cast<int>(p.y);
  const double dx = (1 < x && x < w - 1 && 0 < y && y < h) ? hm[y * w + x + 1] - hm[y * w + x - 1] : 0.0;
  const double dy = (1 < y && y < h - 1 && 0 < x && x < w) ? hm[(y + 1) * w + x] - hm[(y - 1) * w + x] : 0.0;
  p.x += 0.25 * sign(dx);
  p.y += 0.25 * sign(dy);
}

// MMPose refine_keypoints_dark (Zhang et al., DARK): Newton step -H^-1 g on the log of the modulated
// heatmap, derivatives by central differences, away from the border only.
void refine_dark(const std::vector<double>& logm, int w, int h, Point2& p) {
  const int x = static_cast<int>(p.x), y = static_cast<int>(p.y);
  if (!(1 < x && x < w - 2 && 1 < y && y < h - 2)) return;
  auto at = [&](int yy, int xx) { return logm[static_cast<size_t>(yy) * w + xx]; };
  const double dx = 0.5 * (at(y, x + 1) - at(y, x - 1));
  const double dy = 0.5 * (at(y + 1, x) - at(y - 1, x));
  const double dxx = 0.25 * (at(y, x + 2) - 2 * at(y, x) + at(y, x - 2));
  const double dxy = 0.25 * (at(y + 1, x + 1) - at(y - 1, x + 1) - at(y + 1, x - 1) + at(y - 1, x - 1));
  const double dyy = 0.25 * (at(y + 2, x) - 2 * at(y, x) + at(y - 2, x));
  const double det = dxx * dyy - dxy * dxy;
  if (det == 0) return;
  p.x -= (dyy * dx - dxy * dy) / det;
  p.y -= (-dxy * dx + dxx * dy) / det;
}

// MMPose refine_keypoints_dark_udp (Huang et al., UDP): the log is taken of the modulated heatmap
// clipped to [1e-3, 50], derivatives use one-pixel differences on an edge-padded map, and the Hessian
// is regularised by float32 epsilon instead of skipping singular points.
void refine_dark_udp(const std::vector<double>& logm, int w, int h, Point2& p) {
  auto at = [&](int yy, int xx) {  // edge padding
    return logm[static_cast<size_t>(std::clamp(yy, 0, h - 1)) * w + std::clamp(xx, 0, w - 1)];
  };
  const int x = static_cast<int>(p.x), y = static_cast<int>(p.y);
  const double i = at(y, x), ix1 = at(y, x + 1), ix1_ = at(y, x - 1), iy1 = at(y + 1, x), iy1_ = at(y - 1, x);
  const double ix1y1 = at(y + 1, x + 1), ix1_y1_ = at(y - 1, x - 1);
  const double dx = 0.5 * (ix1 - ix1_), dy = 0.5 * (iy1 - iy1_);
  const double eps = 1.1920928955078125e-07;  // np.finfo(np.float32).eps
  const double dxx = ix1 - 2 * i + ix1_ + eps;
  const double dyy = iy1 - 2 * i + iy1_ + eps;
  const double dxy = 0.5 * (ix1y1 - ix1 - iy1 + i + i - ix1_ - iy1_ + ix1_y1_);
  const double det = dxx * dyy - dxy * dxy;
  if (det == 0) return;
  p.x -= (dyy * dx - dxy * dy) / det;
  p.y -= (-dxy * dx + dxx * dy) / det;
}

}  // namespace

std::vector<double> opencv_gaussian_kernel(int ksize) {
  check(ksize >= 1 && ksize % 2 == 1, "opencv_gaussian_kernel: kernel size ", ksize, " is not odd and positive");
  static const std::vector<std::vector<double>> small = {
      {1.0},
      {0.25, 0.5, 0.25},
      {0.0625, 0.25, 0.375, 0.25, 0.0625},
      {0.03125, 0.109375, 0.21875, 0.28125, 0.21875, 0.109375, 0.03125}};
  if (ksize <= 7) return small[ksize / 2];
  const double sigma = ((ksize - 1) * 0.5 - 1) * 0.3 + 0.8;
  std::vector<double> g(static_cast<size_t>(ksize));
  double sum = 0;
  for (int i = 0; i < ksize; ++i) {
    const double x = i - (ksize - 1) * 0.5;
    g[i] = std::exp(-0.5 * x * x / (sigma * sigma));
    sum += g[i];
  }
  for (double& v : g) v /= sum;
  return g;
}

void HeatmapCodec::validate() const {
  check(input_w > 1 && input_h > 1 && heatmap_w > 1 && heatmap_h > 1, "heatmap codec: input ", input_w, "x",
        input_h, " and heatmap ", heatmap_w, "x", heatmap_h, " must be larger than one pixel");
  if (encoding == HeatmapEncoding::Megvii) {
    check(!kernel_sizes.empty(), "heatmap codec (megvii): kernel_sizes is empty");
    for (int k : kernel_sizes)
      check(k >= 1 && k % 2 == 1, "heatmap codec (megvii): kernel size ", k, " is not odd and positive");
    check(decoding == HeatmapDecoding::Shift,
          "heatmap codec (megvii): decodes by blur and shift only (decoding must be shift, not dark)");
  } else {
    check(sigma > 0, "heatmap codec (", encoding_name(encoding), "): sigma ", sigma, " is not positive");
  }
  check(blur_kernel >= 1 && blur_kernel % 2 == 1, "heatmap codec: blur_kernel ", blur_kernel,
        " is not odd and positive");
}

Point2 HeatmapCodec::input_to_heatmap(Point2 p) const {
  if (encoding == HeatmapEncoding::Udp)
    return {p.x * (heatmap_w - 1.0) / (input_w - 1.0), p.y * (heatmap_h - 1.0) / (input_h - 1.0)};
  return {p.x * heatmap_w / input_w, p.y * heatmap_h / input_h};
}

Point2 HeatmapCodec::heatmap_to_input(Point2 p) const {
  if (encoding == HeatmapEncoding::Udp)
    return {p.x * (input_w - 1.0) / (heatmap_w - 1.0), p.y * (input_h - 1.0) / (heatmap_h - 1.0)};
  return {p.x * input_w / heatmap_w, p.y * input_h / heatmap_h};
}

void encode_heatmaps(const HeatmapCodec& codec, const std::vector<Point2>& keypoints,
                     const std::vector<float>& visible, float* heatmaps, float* weights) {
  codec.validate();
  check(visible.size() == keypoints.size(), "encode_heatmaps: ", keypoints.size(), " keypoints but ",
        visible.size(), " visibility flags");
  const int w = codec.heatmap_w, h = codec.heatmap_h;
  const int64_t K = static_cast<int64_t>(keypoints.size());
  const int64_t plane = static_cast<int64_t>(w) * h;
  std::memset(heatmaps, 0, sizeof(float) * codec.num_targets() * K * plane);
  for (int64_t k = 0; k < K; ++k) {
    const bool labelled = visible[k] > 0;
    weights[k] = labelled ? 1.0f : 0.0f;
    if (!labelled) continue;
    const Point2 p = codec.input_to_heatmap(keypoints[k]);
    if (codec.encoding == HeatmapEncoding::Megvii) {
      const int64_t kx = trunc_int(p.x), ky = trunc_int(p.y);
      if (kx < 0 || kx >= w || ky < 0 || ky >= h) {
        weights[k] = 0;
        continue;
      }
      for (size_t s = 0; s < codec.kernel_sizes.size(); ++s) {
        const std::vector<double> g = opencv_gaussian_kernel(codec.kernel_sizes[s]);
        const std::vector<double> gx = blurred_impulse_1d(kx, w, g), gy = blurred_impulse_1d(ky, h, g);
        const double peak = gx[kx] * gy[ky];
        float* hm = heatmaps + (static_cast<int64_t>(s) * K + k) * plane;
        for (int y = 0; y < h; ++y)
          for (int x = 0; x < w; ++x) hm[y * w + x] = static_cast<float>(gx[x] * gy[y] / peak * 255.0);
      }
      continue;
    }
    const Point2 mu{static_cast<double>(trunc_int(p.x + 0.5)), static_cast<double>(trunc_int(p.y + 0.5))};
    const Point2 peak = codec.encoding == HeatmapEncoding::Udp ? p : mu;
    if (!stamp_gaussian(heatmaps + k * plane, w, h, mu, peak, codec.sigma)) weights[k] = 0;
  }
}

HeatmapTargets encode_heatmaps(const HeatmapCodec& codec, const std::vector<Point2>& keypoints,
                               const std::vector<float>& visible) {
  const int64_t K = static_cast<int64_t>(keypoints.size());
  HeatmapTargets t;
  t.heatmaps = codec.encoding == HeatmapEncoding::Megvii
                   ? Tensor::empty({codec.num_targets(), K, codec.heatmap_h, codec.heatmap_w})
                   : Tensor::empty({K, codec.heatmap_h, codec.heatmap_w});
  t.weights = Tensor::empty({K});
  encode_heatmaps(codec, keypoints, visible, t.heatmaps.data<float>(), t.weights.data<float>());
  return t;
}

std::vector<DecodedKeypoint> decode_heatmaps(const HeatmapCodec& codec, const Tensor& heatmaps) {
  codec.validate();
  check(heatmaps.dim() == 3 && heatmaps.dtype() == DType::F32 && heatmaps.size(1) == codec.heatmap_h &&
            heatmaps.size(2) == codec.heatmap_w,
        "decode_heatmaps: heatmaps ", heatmaps.str(), " are not [K, ", codec.heatmap_h, ", ", codec.heatmap_w,
        "] f32");
  const Tensor hm_all = heatmaps.cpu().contiguous();
  const int w = codec.heatmap_w, h = codec.heatmap_h;
  const int64_t K = heatmaps.size(0);
  std::vector<DecodedKeypoint> out(static_cast<size_t>(K));
  std::vector<double> modulated;
  for (int64_t k = 0; k < K; ++k) {
    const float* raw = hm_all.data<float>() + k * static_cast<int64_t>(w) * h;
    // Megvii decoding looks for the maximum of the blurred map; the others of the raw one.
    std::vector<float> blurred;
    const float* hm = raw;
    if (codec.encoding == HeatmapEncoding::Megvii) {
      modulate(raw, w, h, codec.kernel_sizes.back(), modulated);
      blurred.assign(modulated.begin(), modulated.end());
      hm = blurred.data();
    }
    int64_t best = 0;
    for (int64_t i = 1; i < static_cast<int64_t>(w) * h; ++i)
      if (hm[i] > hm[best]) best = i;  // first maximum, as np.argmax
    DecodedKeypoint d{{static_cast<double>(best % w), static_cast<double>(best / w)}, hm[best]};
    if (d.score <= 0) {
      d.xy = {-1, -1};
    } else if (codec.decoding == HeatmapDecoding::Shift) {
      if (codec.encoding == HeatmapEncoding::Megvii) {
        // MMPose MegviiHeatmap.decode: both axes shift only inside 1 < x < W-1, 1 < y < H-1.
        const int x = static_cast<int>(d.xy.x), y = static_cast<int>(d.xy.y);
        if (1 < x && x < w - 1 && 1 < y && y < h - 1) {
          d.xy.x += 0.25 * sign(hm[y * w + x + 1] - hm[y * w + x - 1]);
          d.xy.y += 0.25 * sign(hm[(y + 1) * w + x] - hm[(y - 1) * w + x]);
        }
      } else {
        refine_shift(hm, w, h, d.xy);
      }
    } else {
      modulate(raw, w, h, codec.blur_kernel, modulated);
      if (codec.encoding == HeatmapEncoding::Udp) {
        for (double& v : modulated) v = std::log(std::clamp(v, 1e-3, 50.0));
        refine_dark_udp(modulated, w, h, d.xy);
      } else {
        for (double& v : modulated) v = std::log(std::max(v, 1e-10));
        refine_dark(modulated, w, h, d.xy);
      }
    }
    if (codec.encoding == HeatmapEncoding::Megvii) d.score = d.score / 255.0 + 0.5;
    d.xy = codec.heatmap_to_input(d.xy);
    out[k] = d;
  }
  return out;
}

std::vector<DecodedKeypoint> crop_to_image(const std::vector<DecodedKeypoint>& keypoints,
                                           const Affine& image_to_input) {
  const Affine back = image_to_input.inverse();
  std::vector<DecodedKeypoint> out = keypoints;
  for (DecodedKeypoint& d : out) d.xy = back.apply(d.xy);
  return out;
}

}  // namespace wb::pose
