#include "datasets/synth/canvas.h"

#include <algorithm>
#include <cmath>

namespace wb::data::synth {

Canvas::Canvas(int width, int height)
    : width_(width),
      height_(height),
      image_(width, height, 3),
      tag_(static_cast<size_t>(width) * height, kBackgroundTag),
      depth_(static_cast<size_t>(width) * height, 0.0f) {}

template <class Sdf>
void Canvas::fill(float x0, float y0, float x1, float y1, const Paint& paint, uint8_t tag, Sdf&& sdf) {
  const int ix0 = std::max(0, static_cast<int>(std::floor(x0 - 1)));
  const int iy0 = std::max(0, static_cast<int>(std::floor(y0 - 1)));
  const int ix1 = std::min(width_ - 1, static_cast<int>(std::ceil(x1 + 1)));
  const int iy1 = std::min(height_ - 1, static_cast<int>(std::ceil(y1 + 1)));
  for (int y = iy0; y <= iy1; ++y) {
    for (int x = ix0; x <= ix1; ++x) {
      const float px = static_cast<float>(x), py = static_cast<float>(y);
      float z = 0, centre = 0;
      const float d = sdf(px, py, z, centre);
      if (d >= 0.5f) continue;
      // Coverage of the pixel by the shape's edge, linear over one pixel.
      const float alpha = std::min(1.0f, 0.5f - d);
      float gain = 1.0f;
      if (paint.stripe_amp > 0) {
        const float along = (px * paint.dir_x + py * paint.dir_y) / paint.stripe_period;
        if (static_cast<int64_t>(std::floor(along)) & 1) gain -= paint.stripe_amp;
      }
      if (paint.shade > 0) {
        const float rim = 1.0f - centre;
        gain *= 1.0f - paint.shade * rim * rim;
      }
      uint8_t* p = image_.at(x, y);
      for (int c = 0; c < 3; ++c) {
        const float v = std::clamp(paint.rgb[c] * gain, 0.0f, 255.0f);
        p[c] = static_cast<uint8_t>(p[c] + alpha * (v - p[c]) + 0.5f);
      }
      if (d <= 0) {
        const size_t i = static_cast<size_t>(y) * width_ + x;
        tag_[i] = tag;
        depth_[i] = z;
      }
    }
  }
}

void Canvas::capsule(Vec2 a, Vec2 b, float ra, float rb, float za, float zb, const Paint& paint, uint8_t tag) {
  const float abx = b.x - a.x, aby = b.y - a.y;
  const float len2 = abx * abx + aby * aby;
  const float r = std::max(ra, rb);
  fill(std::min(a.x, b.x) - r, std::min(a.y, b.y) - r, std::max(a.x, b.x) + r, std::max(a.y, b.y) + r, paint, tag,
       [&](float px, float py, float& z, float& centre) {
         float t = len2 > 1e-12f ? ((px - a.x) * abx + (py - a.y) * aby) / len2 : 0.0f;
         t = std::clamp(t, 0.0f, 1.0f);
         const float dx = px - (a.x + t * abx), dy = py - (a.y + t * aby);
         const float dist = std::sqrt(dx * dx + dy * dy);
         const float rad = ra + t * (rb - ra);
         z = za + t * (zb - za);
         centre = std::clamp(1.0f - dist / rad, 0.0f, 1.0f);
         return dist - rad;
       });
}

void Canvas::ellipse(Vec2 c, float rx, float ry, float angle, float z, const Paint& paint, uint8_t tag) {
  const float cs = std::cos(angle), sn = std::sin(angle);
  const float r = std::max(rx, ry);
  fill(c.x - r, c.y - r, c.x + r, c.y + r, paint, tag, [&](float px, float py, float& zz, float& centre) {
    const float dx = px - c.x, dy = py - c.y;
    const float u = (cs * dx + sn * dy) / rx, v = (-sn * dx + cs * dy) / ry;
    const float k = std::sqrt(u * u + v * v);
    zz = z;
    centre = std::clamp(1.0f - k, 0.0f, 1.0f);
    if (k < 1e-6f) return -std::min(rx, ry);
    // (k - 1) divided by |grad k| is the distance to the rim to first order.
    const float gu = u / rx, gv = v / ry;
    const float grad = std::sqrt(gu * gu + gv * gv) / k;
    return (k - 1.0f) / grad;
  });
}

void Canvas::polygon(const Vec2* pts, int n, float radius, float z, const Paint& paint, uint8_t tag) {
  std::array<std::array<float, 3>, 24> edges{};  // outward unit normal (nx, ny) and offset
  float x0 = pts[0].x, x1 = x0, y0 = pts[0].y, y1 = y0;
  float area2 = 0;
  for (int i = 0; i < n; ++i) {
    const Vec2 p = pts[i], q = pts[(i + 1) % n];
    area2 += p.x * q.y - q.x * p.y;
    x0 = std::min(x0, p.x), x1 = std::max(x1, p.x), y0 = std::min(y0, p.y), y1 = std::max(y1, p.y);
  }
  const float orient = area2 >= 0 ? 1.0f : -1.0f;
  int m = 0;
  for (int i = 0; i < n && m < static_cast<int>(edges.size()); ++i) {
    const Vec2 p = pts[i], q = pts[(i + 1) % n];
    const float ex = q.x - p.x, ey = q.y - p.y, len = std::sqrt(ex * ex + ey * ey);
    if (len < 1e-6f) continue;
    const float nx = orient * ey / len, ny = -orient * ex / len;
    edges[m++] = {nx, ny, nx * p.x + ny * p.y};
  }
  const float rim = std::max(radius, 1.5f);
  fill(x0 - radius, y0 - radius, x1 + radius, y1 + radius, paint, tag,
       [&](float px, float py, float& zz, float& centre) {
         // The bounding box's half-planes change nothing for a proper convex polygon and cap the
         // ends of one that collapsed to a segment (a torso seen exactly side-on).
         float d = std::max(std::max(x0 - px, px - x1), std::max(y0 - py, py - y1));
         for (int i = 0; i < m; ++i) d = std::max(d, edges[i][0] * px + edges[i][1] * py - edges[i][2]);
         d -= radius;
         zz = z;
         centre = std::clamp(-d / rim, 0.0f, 1.0f);
         return d;
       });
}

}  // namespace wb::data::synth
