// One synthetic person: a body posed in 3D from joint angles (seen by an orthographic camera), its
// 133 COCO-WholeBody keypoints and the shapes that draw it. Keypoints sit on the drawn shapes
// (joints on limb axes, foot points on the shoe, face landmarks on drawn features, hand landmarks
// on drawn fingers), so what is annotated is what a model can see.
#pragma once
#include <array>
#include <cstdint>
#include <vector>

#include "datasets/synth/canvas.h"
#include "tensor/generator.h"

namespace wb::data::synth {

enum class Difficulty { easy, normal, hard };

struct Vec3 {
  float x = 0, y = 0, z = 0;
};

// A shape to paint, in the person's units until placed, then in pixels. z grows toward the camera.
struct Shape {
  enum class Kind : uint8_t { capsule, ellipse, polygon };
  Kind kind = Kind::capsule;
  int n = 0;                // polygon corners
  std::array<Vec3, 17> p{};  // capsule: ends p[0], p[1]; ellipse: centre p[0]; polygon: p[0..n)
  float r0 = 0, r1 = 0;     // capsule end radii; ellipse semi-axes; polygon corner radius (r0)
  float angle = 0;          // ellipse rotation, radians
  // Painting order, back to front; also the depth written for ellipses and polygons (capsules
  // write the depth of their axis).
  float order = 0;
  Paint paint;
};

struct Person {
  static constexpr int kPoints = 133;
  std::array<Vec3, kPoints> points{};
  // False where the point cannot be annotated whatever the occlusion: the face's points when the
  // face is turned away, the nose and eyes seen from behind.
  std::array<bool, kPoints> labelable{};
  // True where the surface at the point faces away from the camera (a face landmark on the far
  // side of a turned head): labelled, never visible.
  std::array<bool, kPoints> turned_away{};
  // How far (in depth) something of the same person may lie in front of the point before it
  // counts as hidden: about the thickness of the part the point sits on.
  std::array<float, kPoints> slack{};
  bool face_toward_camera = false;
  float head_height = 0;               // the face's size, for deciding whether it is annotated
  std::array<float, 2> hand_length{};  // left, right
  std::vector<Shape> shapes;           // sorted back to front

  // Units to pixels: scale, then rotate in the image plane by `roll` radians about the origin,
  // then translate. Depth and sizes scale alike.
  void place(float scale, float roll, Vec2 offset);
  // Extent of the points and shapes, in the current coordinates: x0, y0, x1, y1.
  std::array<float, 4> bounds() const;
  void draw(Canvas& canvas, uint8_t tag) const;
};

// A random person in units of one head height (about 7.8 units tall when standing), pelvis at
// the origin, y down, facing the camera before the random view turns it. Harder difficulties
// draw more unusual poses and views.
Person sample_person(Generator& gen, Difficulty difficulty);

}  // namespace wb::data::synth
