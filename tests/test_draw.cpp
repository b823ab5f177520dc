// Raster drawing: pixels set where the geometry says, nothing written outside the canvas, the font.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <set>
#include <string>
#include <vector>

#include "pose/draw.h"
#include "tensor/error.h"

using namespace wb::pose;

namespace {

constexpr Rgb kWhite{255, 255, 255};
constexpr Rgb kRed{255, 0, 0};
constexpr uint8_t kGuard = 0xA5;

// A canvas with guard bytes on both sides of its pixels, to catch writes outside the buffer.
struct Guarded {
  int width, height, channels;
  std::vector<uint8_t> buf;
  static constexpr size_t kPad = 4096;

  Guarded(int w, int h, int ch = 3) : width(w), height(h), channels(ch), buf(2 * kPad + size_t(w) * h * ch, kGuard) {
    std::fill(buf.begin() + kPad, buf.end() - kPad, 0);
  }
  Canvas canvas() { return {buf.data() + kPad, width, height, channels}; }
  const uint8_t* px(int x, int y) const { return buf.data() + kPad + (size_t(y) * width + x) * channels; }
  int red(int x, int y) const { return px(x, y)[0]; }
  bool guards_intact() const {
    for (size_t i = 0; i < kPad; ++i) {
      if (buf[i] != kGuard || buf[buf.size() - 1 - i] != kGuard) return false;
    }
    return true;
  }
  int inked() const {
    int n = 0;
    for (int y = 0; y < height; ++y) {
      for (int x = 0; x < width; ++x) n += red(x, y) > 0;
    }
    return n;
  }
};

}  // namespace

TEST_CASE("draw_line: a one-pixel horizontal segment covers exactly its pixel row") {
  Guarded g(20, 10);
  draw_line(g.canvas(), {2, 5}, {12, 5}, kWhite, 1.0);
  for (int x = 2; x <= 12; ++x) CHECK(g.red(x, 5) == 255);
  CHECK(g.red(7, 4) == 0);
  CHECK(g.red(7, 6) == 0);
  CHECK(g.red(0, 5) == 0);   // beyond the round cap
  CHECK(g.red(14, 5) == 0);
  CHECK(g.red(1, 5) == 0);   // the round cap's radius is half a pixel: no coverage one pixel out
  CHECK(g.inked() == 11);
  CHECK(g.px(5, 5)[1] == 255);
  CHECK(g.px(5, 5)[2] == 255);
}

TEST_CASE("draw_line: thick diagonal line, anti-aliased edge between full and empty") {
  Guarded g(40, 40);
  draw_line(g.canvas(), {5, 5}, {30, 30}, kRed, 5.0);
  CHECK(g.red(17, 17) == 255);  // on the axis
  CHECK(g.red(18, 16) == 255);  // 1.41 px off the axis, well inside the half-width 2.5
  CHECK(g.red(20, 14) == 0);    // 4.24 px off the axis: outside
  // Some pixel straddles the edge: partial coverage, neither 0 nor 255.
  bool partial = false;
  for (int y = 0; y < 40; ++y) {
    for (int x = 0; x < 40; ++x) partial |= g.red(x, y) > 0 && g.red(x, y) < 255;
  }
  CHECK(partial);
  CHECK(g.px(17, 17)[1] == 0);  // red only
}

TEST_CASE("draw: everything is clipped, even huge, NaN and infinite coordinates") {
  Guarded g(16, 12);
  const double inf = std::numeric_limits<double>::infinity();
  const double nan = std::numeric_limits<double>::quiet_NaN();
  draw_line(g.canvas(), {-1000, -1000}, {1000, 1000}, kWhite, 3);
  draw_line(g.canvas(), {-1e300, 5}, {1e300, 5}, kWhite, 2);
  draw_line(g.canvas(), {nan, 0}, {5, 5}, kWhite, 2);
  draw_line(g.canvas(), {0, 0}, {inf, 5}, kWhite, 2);
  fill_circle(g.canvas(), {15, 11}, 50, kRed);
  fill_circle(g.canvas(), {-3e9, 4e9}, 1e12, kRed);
  draw_circle(g.canvas(), {0, 0}, 7, kWhite, 3);
  fill_rect(g.canvas(), -100, -100, 1000, 1000, kWhite);
  draw_rect(g.canvas(), -5, -5, 30, 30, kRed, 4);
  draw_text(g.canvas(), -7, -3, "clipped text\nsecond line", kRed, 3);
  draw_text(g.canvas(), 14, 10, "edge", kRed, 2);
  CHECK(g.guards_intact());
  // A four-channel canvas keeps its alpha bytes.
  Guarded a(8, 8, 4);
  fill_circle(a.canvas(), {4, 4}, 20, kWhite);
  CHECK(a.guards_intact());
  for (int y = 0; y < 8; ++y) {
    for (int x = 0; x < 8; ++x) {
      CHECK(a.px(x, y)[0] == 255);
      CHECK(a.px(x, y)[3] == 0);
    }
  }
}

TEST_CASE("fill_circle and draw_circle: inside, outside and area") {
  Guarded g(64, 64);
  fill_circle(g.canvas(), {32, 32}, 10, kWhite);
  CHECK(g.red(32, 32) == 255);
  CHECK(g.red(41, 32) == 255);
  CHECK(g.red(32, 43) == 0);
  CHECK(g.red(40, 40) == 0);  // 11.3 px from the centre
  double ink = 0;
  for (int y = 0; y < 64; ++y) {
    for (int x = 0; x < 64; ++x) ink += g.red(x, y) / 255.0;
  }
  CHECK(ink == doctest::Approx(M_PI * 100).epsilon(0.02));

  Guarded r(64, 64);
  draw_circle(r.canvas(), {32, 32}, 10, kWhite, 2);
  CHECK(r.red(42, 32) == 255);
  CHECK(r.red(32, 22) == 255);
  CHECK(r.red(32, 32) == 0);  // hollow
  CHECK(r.red(32, 45) == 0);
}

TEST_CASE("draw_rect and fill_rect: outline inside the rectangle, interior untouched") {
  Guarded g(20, 20);
  draw_rect(g.canvas(), 2, 3, 12, 15, kWhite, 2);
  CHECK(g.red(2, 3) == 255);
  CHECK(g.red(11, 14) == 255);
  CHECK(g.red(3, 9) == 255);   // second column of the left side
  CHECK(g.red(4, 9) == 0);     // interior
  CHECK(g.red(12, 9) == 0);    // x1 itself is outside
  CHECK(g.red(6, 15) == 0);
  CHECK(g.inked() == 10 * 12 - 6 * 8);
  Guarded f(10, 10);
  fill_rect(f.canvas(), 8, 8, 20, 20, kWhite);
  CHECK(f.inked() == 4);
  fill_rect(f.canvas(), 5, 5, 5, 9, kWhite);  // empty
  CHECK(f.inked() == 4);
}

TEST_CASE("draw_text: glyph pixels land in their cell, scaled and on new lines") {
  Guarded g(40, 30);
  draw_text(g.canvas(), 1, 2, "AB\nI", kWhite);
  // 'A': row 0 ".###.", row 3 "#####", row 6 "#...#".
  CHECK(g.red(1, 2) == 0);
  CHECK(g.red(2, 2) == 255);
  CHECK(g.red(4, 2) == 255);
  CHECK(g.red(5, 2) == 0);
  for (int x = 1; x <= 5; ++x) CHECK(g.red(x, 5) == 255);
  CHECK(g.red(1, 8) == 255);
  CHECK(g.red(3, 8) == 0);
  // 'B' starts one cell (6 px) right: row 0 "####.".
  CHECK(g.red(7, 2) == 255);
  CHECK(g.red(11, 2) == 0);
  // 'I' on the second line, 9 px down: row 0 ".###.".
  CHECK(g.red(1, 11) == 0);
  CHECK(g.red(2, 11) == 255);

  Guarded s(20, 20);
  draw_text(s.canvas(), 0, 0, "-", kWhite, 3);  // row 3 "#####" -> rows 9..11, columns 0..14
  CHECK(s.inked() == 15 * 3);
  CHECK(s.red(0, 9) == 255);
  CHECK(s.red(14, 11) == 255);
  CHECK(s.red(15, 10) == 0);
  CHECK(s.red(0, 8) == 0);

  CHECK(text_width("AB\nI", 1) == 12);
  CHECK(text_height("AB\nI", 1) == 18);
  CHECK(text_width("abc", 2) == 36);
  CHECK(text_height("", 2) == 0);
}

TEST_CASE("font: every printable character has its own glyph, others fall back to '?'") {
  std::set<std::vector<uint8_t>> seen;
  for (char ch = ' '; ch <= '~'; ++ch) {
    const uint8_t* rows = glyph_rows(ch);
    std::vector<uint8_t> glyph(rows, rows + kFontHeight);
    int ink = 0;
    for (uint8_t r : glyph) {
      CHECK(r < 32);  // five columns
      ink += r != 0;
    }
    INFO("character '" << ch << "'");
    CHECK((ch == ' ') == (ink == 0));
    CHECK(seen.insert(glyph).second);
  }
  CHECK(glyph_rows('\x01') == glyph_rows('?'));
  CHECK(glyph_rows('\xe9') == glyph_rows('?'));
}

TEST_CASE("draw_wholebody: confident keypoints drawn in their part's colour, the others not at all") {
  const auto& set = coco_wholebody();
  Guarded g(200, 200);
  std::vector<double> kps(3 * set.size());
  // Every keypoint on one spot, below the threshold; then a few placed and confident.
  for (int i = 0; i < set.size(); ++i) kps[3 * i] = kps[3 * i + 1] = 100, kps[3 * i + 2] = 0.1;
  const int lwrist = set.index_of("left_wrist"), lelbow = set.index_of("left_elbow");
  const int toe = set.index_of("left_big_toe");
  kps[3 * lelbow] = 20, kps[3 * lelbow + 1] = 20, kps[3 * lelbow + 2] = 0.9;
  kps[3 * lwrist] = 60, kps[3 * lwrist + 1] = 20, kps[3 * lwrist + 2] = 0.8;
  kps[3 * toe] = 150, kps[3 * toe + 1] = 150, kps[3 * toe + 2] = 0.7;

  SkeletonStyle style;
  style.threshold = 0.5;
  style.radius = 4;
  style.thickness = 2;
  draw_wholebody(g.canvas(), kps, style);
  CHECK(g.guards_intact());
  const Rgb body = part_color("body"), foot = part_color("foot");
  auto is = [&](int x, int y, Rgb c) { return g.px(x, y)[0] == c.r && g.px(x, y)[1] == c.g && g.px(x, y)[2] == c.b; };
  CHECK(is(20, 20, body));
  CHECK(is(60, 20, body));
  CHECK(is(40, 20, body));  // the elbow-wrist link
  CHECK(is(150, 150, foot));
  CHECK(g.red(100, 100) == 0);  // the unconfident pile is not drawn
  CHECK(g.red(40, 40) == 0);
  CHECK(g.red(100, 80) == 0);

  // The set's own colours on request.
  Guarded k(200, 200);
  style.coloring = SkeletonColoring::Keypoint;
  draw_wholebody(k.canvas(), kps, style);
  const Rgb own = set.colors[toe];
  CHECK(k.px(150, 150)[0] == own.r);
  CHECK(k.px(150, 150)[1] == own.g);
  CHECK(k.px(150, 150)[2] == own.b);

  kps.pop_back();
  CHECK_THROWS_AS(draw_wholebody(g.canvas(), kps, style), wb::Error);
  CHECK_THROWS_AS(draw_line(Canvas{g.canvas().pixels, 10, 10, 2}, {0, 0}, {1, 1}, kRed), wb::Error);
}
