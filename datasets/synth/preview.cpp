#include "datasets/synth/preview.h"

#include <algorithm>

#include "datasets/synth/canvas.h"
#include "pose/keypoints.h"
#include "tensor/error.h"

namespace wb::data::synth {
namespace {

// Area-averaged downscale by a factor >= 1.
Image shrink(const Image& src, int w, int h) {
  Image out(w, h, 3);
  const float fx = static_cast<float>(src.width) / w, fy = static_cast<float>(src.height) / h;
  for (int y = 0; y < h; ++y) {
    const int y0 = static_cast<int>(y * fy), y1 = std::max(y0 + 1, std::min(src.height, static_cast<int>((y + 1) * fy)));
    for (int x = 0; x < w; ++x) {
      const int x0 = static_cast<int>(x * fx), x1 = std::max(x0 + 1, std::min(src.width, static_cast<int>((x + 1) * fx)));
      int sum[3] = {0, 0, 0};
      for (int yy = y0; yy < y1; ++yy)
        for (int xx = x0; xx < x1; ++xx)
          for (int c = 0; c < 3; ++c) sum[c] += src.at(xx, yy)[c];
      const int n = (y1 - y0) * (x1 - x0);
      for (int c = 0; c < 3; ++c) out.at(x, y)[c] = static_cast<uint8_t>((sum[c] + n / 2) / n);
    }
  }
  return out;
}

Paint solid(uint8_t r, uint8_t g, uint8_t b) {
  Paint p;
  p.rgb = {static_cast<float>(r), static_cast<float>(g), static_cast<float>(b)};
  return p;
}

void rectangle(Canvas& c, const Box& b, float s, const Paint& paint) {
  if (b.w <= 0 && b.h <= 0) return;
  const Vec2 p[4] = {{static_cast<float>(b.x * s), static_cast<float>(b.y * s)},
                     {static_cast<float>((b.x + b.w) * s), static_cast<float>(b.y * s)},
                     {static_cast<float>((b.x + b.w) * s), static_cast<float>((b.y + b.h) * s)},
                     {static_cast<float>(b.x * s), static_cast<float>((b.y + b.h) * s)}};
  for (int i = 0; i < 4; ++i) c.capsule(p[i], p[(i + 1) % 4], 0.5f, 0.5f, 0, 0, paint, kBackgroundTag);
}

void draw_person(Canvas& c, const PersonAnnotation& a, float s) {
  const pose::KeypointSet& set = pose::coco_wholebody();
  auto at = [&](int k) { return Vec2{static_cast<float>(a.keypoints[3 * k] * s), static_cast<float>(a.keypoints[3 * k + 1] * s)}; };
  auto labelled = [&](int k) { return a.keypoints[3 * k + 2] > 0; };
  rectangle(c, a.bbox, s, solid(255, 255, 255));
  for (const pose::SkeletonLink& l : set.skeleton) {
    if (!labelled(l.a) || !labelled(l.b)) continue;
    c.capsule(at(l.a), at(l.b), 0.6f, 0.6f, 0, 0, solid(l.color.r, l.color.g, l.color.b), kBackgroundTag);
  }
  for (int k = 0; k < set.size(); ++k) {
    if (!labelled(k)) continue;
    const pose::Rgb col = set.colors[k];
    const bool visible = a.keypoints[3 * k + 2] >= 2;
    const float dim = visible ? 1.0f : 0.35f;
    Paint p;
    p.rgb = {col.r * dim, col.g * dim, col.b * dim};
    c.ellipse(at(k), k < 23 ? 1.6f : 0.9f, k < 23 ? 1.6f : 0.9f, 0, 0, p, kBackgroundTag);
  }
  const Paint yellow = solid(255, 230, 0);
  if (a.face_valid) rectangle(c, a.face_box, s, yellow);
  if (a.lefthand_valid) rectangle(c, a.lefthand_box, s, yellow);
  if (a.righthand_valid) rectangle(c, a.righthand_box, s, yellow);
}

}  // namespace

Image contact_sheet(const std::vector<Image>& images, const std::vector<std::vector<PersonAnnotation>>& people,
                    int columns, int cell_width) {
  check(!images.empty() && images.size() == people.size() && columns > 0, "contact_sheet: ", images.size(),
        " images and ", people.size(), " annotation lists");
  const int w = std::min(cell_width, images[0].width);
  const float s = static_cast<float>(w) / images[0].width;
  const int h = std::max(1, static_cast<int>(images[0].height * s));
  const int cols = std::min<int>(columns, static_cast<int>(images.size()));
  const int rows = (static_cast<int>(images.size()) + cols - 1) / cols;
  constexpr int kGap = 4;
  Image sheet(cols * w + (cols + 1) * kGap, rows * h + (rows + 1) * kGap, 3);
  std::fill(sheet.pixels.begin(), sheet.pixels.end(), uint8_t{40});
  for (size_t i = 0; i < images.size(); ++i) {
    check(images[i].width == images[0].width && images[i].height == images[0].height,
          "contact_sheet: image ", i, " is ", images[i].width, "x", images[i].height, ", the first ", images[0].width,
          "x", images[0].height);
    Canvas canvas(w, h);
    canvas.image() = shrink(images[i], w, h);
    for (const PersonAnnotation& a : people[i]) draw_person(canvas, a, s);
    const int ox = kGap + static_cast<int>(i % cols) * (w + kGap), oy = kGap + static_cast<int>(i / cols) * (h + kGap);
    for (int y = 0; y < h; ++y) std::copy_n(canvas.image().at(0, y), 3 * w, sheet.at(ox, oy + y));
  }
  return sheet;
}

}  // namespace wb::data::synth
