#include "datasets/synth/background.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

namespace wb::data::synth {
namespace {

constexpr float kPi = 3.14159265358979f;

std::array<float, 3> random_colour(Rng& r) { return {r.u(10, 245), r.u(10, 245), r.u(10, 245)}; }

// A smooth field: a linear gradient between two colours plus a coarse grid of random offsets,
// interpolated bilinearly (walls, sky, floor, out-of-focus scenery). Within a grid cell the colour
// is linear along a row, so each pixel costs three additions.
void paint_field(Image& img, Rng& r) {
  const std::array<float, 3> a = random_colour(r), b = random_colour(r);
  const float angle = r.u(0, 2 * kPi);
  // t = 1/2 + (nx gx + ny gy) / sqrt(2) stays in [0, 1] for |nx|, |ny| <= 1/2: no clamping needed.
  const float gx = std::cos(angle) / std::sqrt(2.0f), gy = std::sin(angle) / std::sqrt(2.0f);
  constexpr int kGw = 7, kGh = 6;
  const float amp = r.u(10, 60);
  float grid[kGh][kGw][3];
  for (auto& row : grid)
    for (auto& cell : row)
      for (float& v : cell) v = r.u(-amp, amp);
  const int w = img.width, h = img.height;
  const float cell_w = static_cast<float>(std::max(1, w - 1)) / (kGw - 1);
  for (int y = 0; y < h; ++y) {
    const float fy = static_cast<float>(y) / std::max(1, h - 1) * (kGh - 1);
    const int iy = std::min(kGh - 2, static_cast<int>(fy));
    const float ty = fy - iy;
    const float row_t = 0.5f + (static_cast<float>(y) / h - 0.5f) * gy;
    uint8_t* p = img.at(0, y);
    for (int i = 0; i + 1 < kGw; ++i) {
      const int x0 = static_cast<int>(std::ceil(i * cell_w));
      const int x1 = i + 2 == kGw ? w : static_cast<int>(std::ceil((i + 1) * cell_w));
      float v[3], dv[3];
      for (int c = 0; c < 3; ++c) {
        const float left = grid[iy][i][c] + ty * (grid[iy + 1][i][c] - grid[iy][i][c]);
        const float right = grid[iy][i + 1][c] + ty * (grid[iy + 1][i + 1][c] - grid[iy][i + 1][c]);
        const float off_slope = (right - left) / cell_w;
        const float t0 = row_t + (static_cast<float>(x0) / w - 0.5f) * gx, t_slope = gx / w;
        v[c] = a[c] + t0 * (b[c] - a[c]) + left + off_slope * (x0 - i * cell_w) + 0.5f;
        dv[c] = t_slope * (b[c] - a[c]) + off_slope;
      }
      for (int x = x0; x < x1; ++x, p += 3) {
        for (int c = 0; c < 3; ++c) {
          p[c] = static_cast<uint8_t>(std::clamp(v[c], 0.0f, 255.0f));
          v[c] += dv[c];
        }
      }
    }
  }
}

Paint clutter_paint(Rng& r) {
  Paint p;
  p.rgb = random_colour(r);
  p.shade = r.chance(0.5f) ? r.u(0.1f, 0.5f) : 0.0f;
  if (r.chance(0.3f)) {
    p.stripe_amp = r.u(0.1f, 0.4f);
    p.stripe_period = r.u(3, 20);
    const float a = r.u(0, kPi);
    p.dir_x = std::cos(a);
    p.dir_y = std::sin(a);
  }
  return p;
}

}  // namespace

void paint_background(Canvas& canvas, Rng& r, Difficulty difficulty, float scale) {
  paint_field(canvas.image(), r);
  const float w = static_cast<float>(canvas.width()), h = static_cast<float>(canvas.height());
  const int shapes = difficulty == Difficulty::easy ? r.integer(1, 4) : difficulty == Difficulty::normal ? r.integer(3, 9)
                                                                                                         : r.integer(6, 14);
  for (int i = 0; i < shapes; ++i) {
    const Paint paint = clutter_paint(r);
    const Vec2 c{r.u(-0.1f * w, 1.1f * w), r.u(-0.1f * h, 1.1f * h)};
    const float size = scale * r.log_u(8, 140);
    switch (r.pick({3, 3, 2, 3})) {
      case 0: {  // rotated rectangle: furniture, windows, signs
        const float a = r.deg(-30, 30), hw = size * r.u(0.4f, 1.5f), hh = size * r.u(0.4f, 1.5f);
        const float cs = std::cos(a), sn = std::sin(a);
        const Vec2 pts[4] = {{c.x - cs * hw + sn * hh, c.y - sn * hw - cs * hh},
                             {c.x + cs * hw + sn * hh, c.y + sn * hw - cs * hh},
                             {c.x + cs * hw - sn * hh, c.y + sn * hw + cs * hh},
                             {c.x - cs * hw - sn * hh, c.y - sn * hw + cs * hh}};
        canvas.polygon(pts, 4, r.u(0, 0.1f) * size, 0, paint, kBackgroundTag);
        break;
      }
      case 1:  // ellipse: balls, plants, lamps
        canvas.ellipse(c, size * r.u(0.3f, 1.0f), size * r.u(0.3f, 1.0f), r.u(0, kPi), 0, paint, kBackgroundTag);
        break;
      case 2: {  // pole or rope
        const float a = r.u(0, kPi), len = size * r.u(2, 6);
        const Vec2 d{std::cos(a) * len, std::sin(a) * len};
        const float rad = std::max(1.0f, size * r.u(0.03f, 0.12f));
        canvas.capsule({c.x - d.x, c.y - d.y}, {c.x + d.x, c.y + d.y}, rad, rad, 0, 0, paint, kBackgroundTag);
        break;
      }
      default: {  // limb-like clutter: a chain of two or three tapered capsules, sometimes skin-coloured
        Paint limb = paint;
        if (r.chance(0.4f)) limb.rgb = {r.u(80, 255), r.u(50, 225), r.u(40, 200)};
        limb.shade = 0.35f;
        const float seg = size * r.u(0.4f, 0.9f);
        float rad = std::max(0.8f, seg * r.u(0.1f, 0.22f));
        float a = r.u(0, 2 * kPi);
        Vec2 p = c;
        const int n = r.integer(2, 3);
        for (int k = 0; k < n; ++k) {
          const Vec2 q{p.x + std::cos(a) * seg, p.y + std::sin(a) * seg};
          canvas.capsule(p, q, rad, rad * 0.75f, 0, 0, limb, kBackgroundTag);
          p = q;
          rad *= 0.75f;
          a += r.deg(-70, 70);
        }
        break;
      }
    }
  }
}

void apply_camera_effects(Image& img, Rng& r, Difficulty difficulty) {
  const float strength = difficulty == Difficulty::easy ? 0.5f : difficulty == Difficulty::normal ? 1.0f : 1.5f;
  const int w = img.width, h = img.height;
  const size_t stride = static_cast<size_t>(w) * 3;
  // Defocus or motion: a [1 2 1] / 4 blur, separable, once or twice.
  const int passes = r.chance(0.35f * strength) ? (r.chance(0.3f * strength) ? 2 : 1) : 0;
  std::vector<uint8_t> tmp(passes > 0 ? img.pixels.size() : 0);
  for (int pass = 0; pass < passes; ++pass) {
    for (int y = 0; y < h; ++y) {
      const uint8_t* s = img.pixels.data() + y * stride;
      uint8_t* d = tmp.data() + y * stride;
      for (int c = 0; c < 3; ++c) {
        d[c] = static_cast<uint8_t>((3 * s[c] + s[std::min(w - 1, 1) * 3 + c] + 2) >> 2);
        d[stride - 3 + c] = static_cast<uint8_t>((3 * s[stride - 3 + c] + s[std::max(0, w - 2) * 3 + c] + 2) >> 2);
      }
      for (size_t i = 3; i + 3 < stride; ++i) d[i] = static_cast<uint8_t>((s[i - 3] + 2 * s[i] + s[i + 3] + 2) >> 2);
    }
    for (int y = 0; y < h; ++y) {
      const uint8_t* up = tmp.data() + std::max(0, y - 1) * stride;
      const uint8_t* mid = tmp.data() + y * stride;
      const uint8_t* down = tmp.data() + std::min(h - 1, y + 1) * stride;
      uint8_t* d = img.pixels.data() + y * stride;
      for (size_t i = 0; i < stride; ++i) d[i] = static_cast<uint8_t>((up[i] + 2 * mid[i] + down[i] + 2) >> 2);
    }
  }
  // Lighting: gain varies linearly over the picture (a light on one side), with contrast about mid
  // grey and a colour cast per channel, so out = in * a + b with a and b known per row position;
  // then sensor noise, triangular (the sum of two uniform bytes), amplitude up to about 10 levels.
  // Written as flat loops over a row's bytes so that the compiler vectorises them.
  const float g0 = r.u(1 - 0.25f * strength, 1 + 0.15f * strength);
  const float gx = r.u(-0.4f, 0.4f) * strength / std::max(1, w), gy = r.u(-0.4f, 0.4f) * strength / std::max(1, h);
  const float contrast = r.u(1 - 0.2f * strength, 1 + 0.15f * strength);
  float slope[3], offset[3];
  for (int c = 0; c < 3; ++c) {
    const float cast = r.u(1 - 0.08f * strength, 1 + 0.08f * strength);
    slope[c] = contrast * cast;
    offset[c] = 128.0f * (1 - contrast) * cast + 0.5f;  // + 0.5: rounding
  }
  const int amp = static_cast<int>(r.u(0, 7) * strength);
  // Four independent streams, so that the generator's serial dependency does not set the pace.
  PixelRng noise[4] = {PixelRng(r.g.next_u64()), PixelRng(r.g.next_u64()), PixelRng(r.g.next_u64()),
                       PixelRng(r.g.next_u64())};
  std::vector<float> slope_c(stride), offset_c(stride), slope_x(stride), offset_x(stride), a(stride), b(stride);
  for (size_t i = 0; i < stride; ++i) {
    const float gain_x = gx * (static_cast<float>(i / 3) - 0.5f * w);
    slope_c[i] = slope[i % 3];
    offset_c[i] = offset[i % 3];
    slope_x[i] = slope_c[i] * gain_x;
    offset_x[i] = offset_c[i] * gain_x;
  }
  std::vector<uint8_t> bytes(2 * stride + 32, 0);
  for (int y = 0; y < h; ++y) {
    const float gain_y = g0 + gy * (y - 0.5f * h);
    for (size_t i = 0; i < stride; ++i) {
      a[i] = slope_c[i] * gain_y + slope_x[i];
      b[i] = offset_c[i] * gain_y + offset_x[i];
    }
    if (amp > 0) {
      for (size_t i = 0; i < 2 * stride; i += 32) {
        uint64_t v[4];
        for (int k = 0; k < 4; ++k) v[k] = noise[k].next();
        std::memcpy(bytes.data() + i, v, 32);
      }
    }
    uint8_t* p = img.at(0, y);
    for (size_t i = 0; i < stride; ++i) {
      const int n = (((bytes[2 * i] + bytes[2 * i + 1]) - 255) * amp + 128) >> 8;
      const int v = static_cast<int>(p[i] * a[i] + b[i]) + n;
      p[i] = static_cast<uint8_t>(std::clamp(v, 0, 255));
    }
  }
}

}  // namespace wb::data::synth
