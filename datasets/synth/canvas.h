// The synthetic generator's rasteriser: anti-aliased capsules, ellipses and convex polygons on an
// 8-bit RGB picture, with two extra planes that make occlusion measurable rather than guessed:
// `tag` says which person (or background, or occluder) painted each pixel last, and `depth` the
// depth of that person's surface there. Shapes are painted back to front (painter's algorithm).
#pragma once
#include <array>
#include <cstdint>
#include <vector>

#include "datasets/image.h"

namespace wb::data::synth {

struct Vec2 {
  float x = 0, y = 0;
};

// A colour with optional stripes (clothing texture): the colour is scaled by 1 - amp on every
// other band of width `period` pixels measured along (dir_x, dir_y).
struct Paint {
  std::array<float, 3> rgb{};
  float stripe_amp = 0, stripe_period = 0, dir_x = 1, dir_y = 0;
  // 0: flat; s > 0: darkens a capsule's rim by up to s, so that limbs read as round.
  float shade = 0;
};

inline constexpr uint8_t kBackgroundTag = 0;
inline constexpr uint8_t kOccluderTag = 255;
// Person k (0-based) paints tag k + 1.
inline uint8_t person_tag(int k) { return static_cast<uint8_t>(k + 1); }

class Canvas {
 public:
  Canvas(int width, int height);

  int width() const { return width_; }
  int height() const { return height_; }
  Image& image() { return image_; }
  const Image& image() const { return image_; }
  uint8_t tag(int x, int y) const { return tag_[static_cast<size_t>(y) * width_ + x]; }
  float depth(int x, int y) const { return depth_[static_cast<size_t>(y) * width_ + x]; }

  // The segment a-b swept by a disc whose radius goes from ra to rb; depth goes from za to zb.
  void capsule(Vec2 a, Vec2 b, float ra, float rb, float za, float zb, const Paint& paint, uint8_t tag);
  // Ellipse with semi-axes (rx, ry) rotated by `angle` radians, at one depth.
  void ellipse(Vec2 c, float rx, float ry, float angle, float z, const Paint& paint, uint8_t tag);
  // Convex polygon (either winding) grown by `radius` (rounded corners), at one depth.
  void polygon(const Vec2* pts, int n, float radius, float z, const Paint& paint, uint8_t tag);

  // A pixel box, inclusive; empty while x0 > x1.
  struct Extent {
    int x0 = 1 << 30, y0 = 1 << 30, x1 = -1, y1 = -1;
  };

 private:
  // Visits the pixels of a box and paints where sdf(px, py) < 0.5 (anti-aliased over one pixel).
  // sdf returns signed distance (negative inside) and writes the pixel's depth and its shade
  // factor in [0, 1] (1 at the centre line, 0 at the rim).
  template <class Sdf>
  void fill(float x0, float y0, float x1, float y1, const Paint& paint, uint8_t tag, Sdf&& sdf);

  int width_, height_;
  Image image_;
  std::vector<uint8_t> tag_;
  std::vector<float> depth_;
};

}  // namespace wb::data::synth
