// Raster drawing on 8-bit RGB(A) pixel buffers: anti-aliased thick lines, circles, rectangles,
// text in a built-in 5x7 bitmap font, and the whole-body skeleton. Used for prediction pictures
// (wbpose-infer) and training plots. Everything is clipped to the canvas: any coordinate, including
// far off-canvas, NaN or infinite ones, is safe and draws nothing outside the buffer.
#pragma once
#include <cstdint>
#include <string_view>
#include <vector>

#include "pose/affine.h"
#include "pose/font5x7.h"
#include "pose/keypoints.h"

namespace wb::pose {

// A view on caller-owned pixels: rows top to bottom, `channels` interleaved bytes per pixel (3 or 4;
// only the first three, R G B, are drawn on). pose/ knows no image type, so any HWC buffer works.
struct Canvas {
  uint8_t* pixels = nullptr;
  int width = 0, height = 0, channels = 3;
};

// Coverage-weighted blend of `color` into pixel (x, y) with opacity alpha in [0, 1]; ignored off
// the canvas.
void blend_pixel(const Canvas& c, int x, int y, Rgb color, double alpha);

// Geometry is in pixel coordinates with pixel centres at integers, as everywhere in pose/.
// A segment of the given thickness with round caps; edges are anti-aliased over one pixel.
void draw_line(const Canvas& c, Point2 a, Point2 b, Rgb color, double thickness = 1.0);
void fill_circle(const Canvas& c, Point2 center, double radius, Rgb color);
// A ring of `thickness` centred on the circle of `radius`.
void draw_circle(const Canvas& c, Point2 center, double radius, Rgb color, double thickness = 1.0);
// Axis-aligned, covering the pixels x0..x1-1, y0..y1-1 (integer pixel rectangle, no blending).
void fill_rect(const Canvas& c, int x0, int y0, int x1, int y1, Rgb color);
// Outline `thickness` pixels wide drawn inside the rectangle x0..x1-1, y0..y1-1.
void draw_rect(const Canvas& c, int x0, int y0, int x1, int y1, Rgb color, int thickness = 1);

// Text in the 5x7 font (pose/font5x7.h) on a 6x9 cell per character, each font pixel drawn as
// scale x scale pixels; (x, y) is the top-left corner of the first cell; '\n' starts a new line.
// Printable ASCII is drawn; any other byte is drawn as '?'.
constexpr int kCellWidth = 6, kCellHeight = 9;
void draw_text(const Canvas& c, int x, int y, std::string_view text, Rgb color, int scale = 1);
// Width and height in pixels of the cells draw_text covers (widest line; lines times cell height).
int text_width(std::string_view text, int scale = 1);
int text_height(std::string_view text, int scale = 1);

// How draw_keypoints colours the skeleton.
enum class SkeletonColoring {
  Part,      // one colour per part: body, foot, face, left hand, right hand (part_color)
  Keypoint,  // the keypoint set's own colours (MMPose's visualiser palette)
};
Rgb part_color(std::string_view part_name);

struct SkeletonStyle {
  double threshold = 0.3;     // keypoints with a lower score are not drawn, nor their links
  double radius = 0;          // keypoint dot radius; 0: chosen from the canvas size
  double thickness = 0;       // link thickness; 0: chosen from the canvas size
  SkeletonColoring coloring = SkeletonColoring::Part;
};

// One person: `keypoints` holds (x, y, score) triples in image pixels, one per keypoint of `set`
// (an error otherwise). Links first, then dots on top; face and hand points get smaller dots.
void draw_keypoints(const Canvas& c, const KeypointSet& set, const std::vector<double>& keypoints,
                    const SkeletonStyle& style = {});
// The 133-point COCO-WholeBody skeleton.
void draw_wholebody(const Canvas& c, const std::vector<double>& keypoints, const SkeletonStyle& style = {});

}  // namespace wb::pose
