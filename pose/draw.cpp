#include "pose/draw.h"

#include <algorithm>
#include <cmath>

#include "tensor/error.h"

namespace wb::pose {
namespace {

bool finite(Point2 p) { return std::isfinite(p.x) && std::isfinite(p.y); }

// The pixel range [lo, hi] covering the real interval [a, b], clipped to [0, size - 1]; empty (lo > hi)
// when it misses the canvas. Works on doubles first so that huge coordinates cannot overflow an int.
void clip_span(double a, double b, int size, int& lo, int& hi) {
  const double l = std::max(std::floor(a), 0.0);
  const double h = std::min(std::ceil(b), static_cast<double>(size - 1));
  if (l > h) {
    lo = 1;
    hi = 0;
    return;
  }
  lo = static_cast<int>(l);
  hi = static_cast<int>(h);
}

// Shades every pixel centre in the box [x0, x1] x [y0, y1] with the coverage `cover(px, py)`.
template <class Coverage>
void shade(const Canvas& c, double x0, double y0, double x1, double y1, Rgb color, Coverage cover) {
  int xa, xb, ya, yb;
  clip_span(x0, x1, c.width, xa, xb);
  clip_span(y0, y1, c.height, ya, yb);
  for (int y = ya; y <= yb; ++y) {
    for (int x = xa; x <= xb; ++x) {
      const double a = cover(static_cast<double>(x), static_cast<double>(y));
      if (a > 0) blend_pixel(c, x, y, color, a);
    }
  }
}

// Anti-aliasing: a pixel whose centre lies `d` inside the shape's edge is covered by clamp(d + 0.5).
double edge_coverage(double inside) { return std::clamp(inside + 0.5, 0.0, 1.0); }

void check_canvas(const Canvas& c) {
  check(c.width >= 0 && c.height >= 0, "draw: canvas size ", c.width, "x", c.height, " is negative");
  check(c.channels == 3 || c.channels == 4, "draw: canvas has ", c.channels, " channels, expected 3 or 4");
  check(c.pixels != nullptr || c.width * c.height == 0, "draw: canvas has no pixels");
}

}  // namespace

void blend_pixel(const Canvas& c, int x, int y, Rgb color, double alpha) {
  if (x < 0 || y < 0 || x >= c.width || y >= c.height) return;
  alpha = std::clamp(alpha, 0.0, 1.0);
  uint8_t* p = c.pixels + (static_cast<size_t>(y) * c.width + x) * c.channels;
  const uint8_t rgb[3] = {color.r, color.g, color.b};
  for (int k = 0; k < 3; ++k) {
    p[k] = static_cast<uint8_t>(std::lround(p[k] * (1.0 - alpha) + rgb[k] * alpha));
  }
}

void draw_line(const Canvas& c, Point2 a, Point2 b, Rgb color, double thickness) {
  check_canvas(c);
  if (!finite(a) || !finite(b) || !(thickness > 0)) return;
  const double half = 0.5 * thickness;
  const double dx = b.x - a.x, dy = b.y - a.y;
  const double len2 = dx * dx + dy * dy;
  const double pad = half + 1;
  shade(c, std::min(a.x, b.x) - pad, std::min(a.y, b.y) - pad, std::max(a.x, b.x) + pad,
        std::max(a.y, b.y) + pad, color, [&](double x, double y) {
          // Distance from the pixel centre to the segment (a capsule of radius `half` around it).
          const double t = len2 > 0 ? std::clamp(((x - a.x) * dx + (y - a.y) * dy) / len2, 0.0, 1.0) : 0.0;
          const double ex = x - (a.x + t * dx), ey = y - (a.y + t * dy);
          return edge_coverage(half - std::sqrt(ex * ex + ey * ey));
        });
}

void fill_circle(const Canvas& c, Point2 center, double radius, Rgb color) {
  check_canvas(c);
  if (!finite(center) || !(radius > 0)) return;
  const double pad = radius + 1;
  shade(c, center.x - pad, center.y - pad, center.x + pad, center.y + pad, color, [&](double x, double y) {
    return edge_coverage(radius - std::hypot(x - center.x, y - center.y));
  });
}

void draw_circle(const Canvas& c, Point2 center, double radius, Rgb color, double thickness) {
  check_canvas(c);
  if (!finite(center) || !(radius >= 0) || !(thickness > 0)) return;
  const double half = 0.5 * thickness;
  const double pad = radius + half + 1;
  shade(c, center.x - pad, center.y - pad, center.x + pad, center.y + pad, color, [&](double x, double y) {
    return edge_coverage(half - std::fabs(std::hypot(x - center.x, y - center.y) - radius));
  });
}

void fill_rect(const Canvas& c, int x0, int y0, int x1, int y1, Rgb color) {
  check_canvas(c);
  const int xa = std::max(x0, 0), xb = std::min(x1, c.width);
  const int ya = std::max(y0, 0), yb = std::min(y1, c.height);
  for (int y = ya; y < yb; ++y) {
    for (int x = xa; x < xb; ++x) blend_pixel(c, x, y, color, 1.0);
  }
}

void draw_rect(const Canvas& c, int x0, int y0, int x1, int y1, Rgb color, int thickness) {
  check_canvas(c);
  if (x1 <= x0 || y1 <= y0 || thickness <= 0) return;
  const int t = std::min({thickness, (x1 - x0 + 1) / 2, (y1 - y0 + 1) / 2});
  fill_rect(c, x0, y0, x1, y0 + t, color);          // top
  fill_rect(c, x0, y1 - t, x1, y1, color);          // bottom
  fill_rect(c, x0, y0 + t, x0 + t, y1 - t, color);  // left
  fill_rect(c, x1 - t, y0 + t, x1, y1 - t, color);  // right
}

void draw_text(const Canvas& c, int x, int y, std::string_view text, Rgb color, int scale) {
  check_canvas(c);
  check(scale >= 1, "draw_text: scale ", scale, " must be at least 1");
  int cx = x, cy = y;
  for (char ch : text) {
    if (ch == '\n') {
      cx = x;
      cy += kCellHeight * scale;
      continue;
    }
    const uint8_t* rows = glyph_rows(ch);
    for (int r = 0; r < kFontHeight; ++r) {
      for (int col = 0; col < kFontWidth; ++col) {
        if (rows[r] & (1u << (kFontWidth - 1 - col))) {
          fill_rect(c, cx + col * scale, cy + r * scale, cx + (col + 1) * scale, cy + (r + 1) * scale, color);
        }
      }
    }
    cx += kCellWidth * scale;
  }
}

int text_width(std::string_view text, int scale) {
  int widest = 0, current = 0;
  for (char ch : text) {
    current = ch == '\n' ? 0 : current + 1;
    widest = std::max(widest, current);
  }
  return widest * kCellWidth * scale;
}

int text_height(std::string_view text, int scale) {
  if (text.empty()) return 0;
  return static_cast<int>(1 + std::count(text.begin(), text.end(), '\n')) * kCellHeight * scale;
}

Rgb part_color(std::string_view part_name) {
  if (part_name == "body") return {51, 153, 255};
  if (part_name == "foot") return {255, 153, 0};
  if (part_name == "face") return {255, 255, 102};
  if (part_name == "lefthand") return {0, 230, 0};
  if (part_name == "righthand") return {255, 51, 153};
  return {200, 200, 200};
}

void draw_keypoints(const Canvas& c, const KeypointSet& set, const std::vector<double>& keypoints,
                    const SkeletonStyle& style) {
  check_canvas(c);
  check(keypoints.size() == 3 * static_cast<size_t>(set.size()), "draw_keypoints: ", keypoints.size() / 3.0,
        " (x, y, score) triples for the ", set.size(), "-point set ", set.name);
  const double side = std::max(1, std::min(c.width, c.height));
  const double radius = style.radius > 0 ? style.radius : std::max(1.5, side / 160);
  const double thickness = style.thickness > 0 ? style.thickness : std::max(1.0, side / 240);

  std::vector<const KeypointPart*> part_of(set.size(), nullptr);
  for (const auto& p : set.parts) {
    for (int i = p.begin; i < p.end; ++i) part_of[i] = &p;
  }
  auto shown = [&](int i) { return keypoints[3 * i + 2] >= style.threshold; };
  auto at = [&](int i) { return Point2{keypoints[3 * i], keypoints[3 * i + 1]}; };
  auto color_of = [&](int i) {
    return style.coloring == SkeletonColoring::Part ? part_color(part_of[i] ? part_of[i]->name : "") : set.colors[i];
  };

  for (const auto& link : set.skeleton) {
    if (!shown(link.a) || !shown(link.b)) continue;
    // A link between parts (wrist to hand root, ankle to toe) takes the colour of the finer part,
    // which comes later in the keypoint order.
    const Rgb col = style.coloring == SkeletonColoring::Part ? color_of(std::max(link.a, link.b)) : link.color;
    draw_line(c, at(link.a), at(link.b), col, thickness);
  }
  for (int i = 0; i < set.size(); ++i) {
    if (!shown(i)) continue;
    const bool fine = part_of[i] && (part_of[i]->name == "face" || part_of[i]->name.find("hand") != std::string::npos);
    fill_circle(c, at(i), fine ? std::max(1.0, 0.6 * radius) : radius, color_of(i));
  }
}

void draw_wholebody(const Canvas& c, const std::vector<double>& keypoints, const SkeletonStyle& style) {
  draw_keypoints(c, coco_wholebody(), keypoints, style);
}

}  // namespace wb::pose
