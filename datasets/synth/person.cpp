#include "datasets/synth/person.h"

#include <algorithm>
#include <cmath>

#include "datasets/synth/random.h"

namespace wb::data::synth {
namespace {

constexpr float kPi = 3.14159265358979f;
constexpr float kDeg = kPi / 180.0f;

// Keypoint indices of the COCO-WholeBody order (pose::coco_wholebody()).
enum Body : int {
  kNose = 0, kLeftEye, kRightEye, kLeftEar, kRightEar, kLeftShoulder, kRightShoulder, kLeftElbow,
  kRightElbow, kLeftWrist, kRightWrist, kLeftHip, kRightHip, kLeftKnee, kRightKnee, kLeftAnkle, kRightAnkle
};
constexpr int kFoot = 17;   // left big toe, small toe, heel, then the right foot's
constexpr int kFace = 23;   // 68 landmarks of the 300W layout
constexpr int kHand[2] = {91, 112};  // left, right: root, then 4 joints per finger, thumb first

Vec3 operator+(Vec3 a, Vec3 b) { return {a.x + b.x, a.y + b.y, a.z + b.z}; }
Vec3 operator-(Vec3 a, Vec3 b) { return {a.x - b.x, a.y - b.y, a.z - b.z}; }
Vec3 operator*(float s, Vec3 a) { return {s * a.x, s * a.y, s * a.z}; }
float dot(Vec3 a, Vec3 b) { return a.x * b.x + a.y * b.y + a.z * b.z; }
Vec3 cross(Vec3 a, Vec3 b) { return {a.y * b.z - a.z * b.y, a.z * b.x - a.x * b.z, a.x * b.y - a.y * b.x}; }
Vec3 normalize(Vec3 a) {
  const float n = std::sqrt(dot(a, a));
  return n > 1e-9f ? (1.0f / n) * a : Vec3{0, 1, 0};
}
Vec3 lerp(Vec3 a, Vec3 b, float t) { return a + t * (b - a); }

struct Mat3 {
  float m[3][3];
  Vec3 operator*(Vec3 v) const {
    return {m[0][0] * v.x + m[0][1] * v.y + m[0][2] * v.z, m[1][0] * v.x + m[1][1] * v.y + m[1][2] * v.z,
            m[2][0] * v.x + m[2][1] * v.y + m[2][2] * v.z};
  }
  Mat3 operator*(const Mat3& o) const {
    Mat3 r{};
    for (int i = 0; i < 3; ++i)
      for (int j = 0; j < 3; ++j) r.m[i][j] = m[i][0] * o.m[0][j] + m[i][1] * o.m[1][j] + m[i][2] * o.m[2][j];
    return r;
  }
};
// y points down and z toward the camera, so rot_x(a > 0) tips the top of the body backward.
Mat3 rot_x(float a) { return {{{1, 0, 0}, {0, std::cos(a), -std::sin(a)}, {0, std::sin(a), std::cos(a)}}}; }
Mat3 rot_y(float a) { return {{{std::cos(a), 0, std::sin(a)}, {0, 1, 0}, {-std::sin(a), 0, std::cos(a)}}}; }
Mat3 rot_z(float a) { return {{{std::cos(a), -std::sin(a), 0}, {std::sin(a), std::cos(a), 0}, {0, 0, 1}}}; }

// Rodrigues: v turned by `angle` about the unit axis k.
Vec3 rotate_about(Vec3 v, Vec3 k, float angle) {
  const float c = std::cos(angle), s = std::sin(angle);
  return c * v + s * cross(k, v) + ((1 - c) * dot(k, v)) * k;
}
// The part of `v` orthogonal to the unit vector `d`, normalised; `fallback` when v is parallel to d.
Vec3 orthogonal(Vec3 v, Vec3 d, Vec3 fallback) {
  Vec3 o = v - dot(v, d) * d;
  if (dot(o, o) < 1e-6f) o = fallback - dot(fallback, d) * d;
  return normalize(o);
}
// A limb's direction from its root: hanging down, swung out sideways by `abduction` (side = +1 for
// the left, the +x side) and forward by `flexion`.
Vec3 limb_direction(float abduction, float flexion, float side) {
  return {side * std::sin(abduction) * std::cos(flexion), std::cos(abduction) * std::cos(flexion), std::sin(flexion)};
}
// A child segment bent by `bend` radians away from its parent's direction d toward `toward`.
Vec3 bend(Vec3 d, Vec3 toward, float angle) { return std::cos(angle) * d + std::sin(angle) * orthogonal(toward, d, {0, -1, 0}); }

Paint flat(std::array<float, 3> rgb, float shade = 0.35f) {
  Paint p;
  p.rgb = rgb;
  p.shade = shade;
  return p;
}
std::array<float, 3> scaled(std::array<float, 3> c, float s) { return {c[0] * s, c[1] * s, c[2] * s}; }

struct Look {
  std::array<float, 3> skin, hair, shirt, pants, shoes, lips;
  bool long_sleeves, long_pants;
  float stripe_amp, stripe_period;
};

Look sample_look(Rng& r) {
  static constexpr float kSkins[7][3] = {{255, 224, 196}, {241, 194, 167}, {224, 172, 140}, {198, 134, 98},
                                        {161, 102, 68},  {112, 72, 50},   {80, 52, 38}};
  static constexpr float kHairs[6][3] = {{20, 16, 14}, {60, 40, 25}, {110, 75, 40}, {200, 170, 110}, {150, 150, 150},
                                        {140, 60, 30}};
  Look l;
  const float* s = kSkins[static_cast<int>(r.u(0, 7))];
  const float j = r.u(-12, 12);
  l.skin = {s[0] + j, s[1] + j, s[2] + j};
  const float* h = kHairs[static_cast<int>(r.u(0, 6))];
  l.hair = {h[0], h[1], h[2]};
  auto colour = [&](float lo, float hi) { return std::array<float, 3>{r.u(lo, hi), r.u(lo, hi), r.u(lo, hi)}; };
  l.shirt = colour(20, 250);
  l.pants = colour(15, 160);
  l.shoes = colour(10, 90);
  l.lips = {std::min(255.0f, l.skin[0] * 0.95f + 25), l.skin[1] * 0.62f, l.skin[2] * 0.62f};
  l.long_sleeves = r.chance(0.5f);
  l.long_pants = r.chance(0.75f);
  l.stripe_amp = r.chance(0.3f) ? r.u(0.15f, 0.4f) : 0.0f;
  l.stripe_period = r.u(0.12f, 0.35f);
  return l;
}

// The 68-point 300W mean face, x to the subject's left, y down, in units of the face's half width
// (x) and of its eye-to-chin height (y); eyes at y = -0.25, chin at 0.85.
std::array<Vec2, 68> face_template(Rng& r) {
  std::array<Vec2, 68> f{};
  const float jaw_w = r.u(0.85f, 1.0f), chin = r.u(0.8f, 0.92f);
  for (int k = 0; k <= 16; ++k) {
    const float a = kPi * k / 16.0f;
    // Wider at the cheeks than a half ellipse, so the jaw reads as a jaw.
    const float w = jaw_w * (1.0f - 0.15f * std::pow(std::sin(a), 4.0f));
    f[k] = {-w * std::cos(a), -0.25f + (chin + 0.25f) * std::sin(a)};
  }
  const float brow = -0.5f - r.u(-0.03f, 0.06f);
  for (int k = 0; k < 5; ++k) {
    const float x = 0.78f - 0.15f * k, arch = 0.07f * std::sin(kPi * (k + 0.5f) / 5.0f);
    f[17 + k] = {-x, brow - arch};
    f[26 - k] = {x, brow - arch};
  }
  for (int k = 0; k < 4; ++k) f[27 + k] = {0, -0.28f + 0.14f * k};
  const float nostril_y = 0.22f;
  f[31] = {-0.2f, nostril_y - 0.02f};
  f[32] = {-0.1f, nostril_y + 0.02f};
  f[33] = {0, nostril_y + 0.04f};
  f[34] = {0.1f, nostril_y + 0.02f};
  f[35] = {0.2f, nostril_y - 0.02f};
  const float open = r.u(0.65f, 1.15f);
  for (int side = 0; side < 2; ++side) {
    // Right eye (36-41) from its outer corner; left eye (42-47) from its inner corner.
    const float sx = side == 0 ? -1.0f : 1.0f, cx = 0.38f * sx;
    const int b = side == 0 ? 36 : 42;
    const float outer = cx + 0.18f * sx, inner = cx - 0.18f * sx;
    const float top = -0.25f - 0.065f * open, bottom = -0.25f + 0.055f * open;
    const float near_outer = cx + 0.07f * sx, near_inner = cx - 0.07f * sx;
    if (side == 0) {
      f[b + 0] = {outer, -0.25f};
      f[b + 1] = {near_outer, top};
      f[b + 2] = {near_inner, top};
      f[b + 3] = {inner, -0.25f};
      f[b + 4] = {near_inner, bottom};
      f[b + 5] = {near_outer, bottom};
    } else {
      f[b + 0] = {inner, -0.25f};
      f[b + 1] = {near_inner, top};
      f[b + 2] = {near_outer, top};
      f[b + 3] = {outer, -0.25f};
      f[b + 4] = {near_outer, bottom};
      f[b + 5] = {near_inner, bottom};
    }
  }
  const float smile = r.u(-0.02f, 0.06f), gap = r.chance(0.35f) ? r.u(0.03f, 0.12f) : 0.0f;
  const float mouth = 0.5f, half = r.u(0.28f, 0.36f);
  const float ox[6] = {-half, -0.2f, -0.08f, 0, 0.08f, 0.2f};
  const float oy_top[6] = {mouth - smile, mouth - 0.07f, mouth - 0.1f, mouth - 0.085f, mouth - 0.1f, mouth - 0.07f};
  for (int k = 0; k < 6; ++k) f[48 + k] = {ox[k], oy_top[k]};
  f[54] = {half, mouth - smile};
  const float low = mouth + 0.1f + gap;
  f[55] = {0.2f, low - 0.03f};
  f[56] = {0.08f, low};
  f[57] = {0, low + 0.01f};
  f[58] = {-0.08f, low};
  f[59] = {-0.2f, low - 0.03f};
  const float in_half = half - 0.06f;
  f[60] = {-in_half, mouth - smile * 0.8f};
  f[61] = {-0.1f, mouth - 0.025f};
  f[62] = {0, mouth - 0.02f};
  f[63] = {0.1f, mouth - 0.025f};
  f[64] = {in_half, mouth - smile * 0.8f};
  f[65] = {0.1f, mouth + 0.02f + gap};
  f[66] = {0, mouth + 0.025f + gap};
  f[67] = {-0.1f, mouth + 0.02f + gap};
  return f;
}

enum class PoseKind { standing, walking, sitting, arms_raised, dynamic };

struct LimbAngles {
  float abduction = 0, flexion = 0, bend = 0, twist = 0;
};

// Everything of the body before the view turns it: joint angles in, points out.
struct Skeleton {
  std::array<Vec3, Person::kPoints> p{};
  Vec3 neck, head_centre, head_bottom;
  Mat3 head_rot{};
  std::array<Vec3, 2> hand_u{}, hand_v{}, hand_n{};  // hand frames: thumb side, along, palm normal
};

constexpr float kHeadAx = 0.36f, kHeadAy = 0.5f, kHeadAz = 0.42f;  // head ellipsoid semi-axes
constexpr float kFaceSx = 0.34f, kFaceSy = 0.45f, kFaceDy = 0.06f;  // face template -> head frame

// A face landmark's place on the head ellipsoid (head frame, centred), the nose standing out.
Vec3 face_point_on_head(Vec2 f, int k) {
  const float x = f.x * kFaceSx, y = kFaceDy + f.y * kFaceSy;
  const float q = 1.0f - (x * x) / (kHeadAx * kHeadAx) - (y * y) / (kHeadAy * kHeadAy);
  float z = kHeadAz * std::sqrt(std::max(0.02f, q));
  if (k >= 27 && k <= 30) z += 0.05f * (k - 26);         // the bridge rises to the tip
  if (k >= 31 && k <= 35) z += k == 33 ? 0.12f : 0.07f;  // nostrils below the tip
  if (k >= 48) z += 0.03f;                                // lips
  return {x, y, z};
}
Vec3 head_normal(Vec3 q) {
  return normalize({q.x / (kHeadAx * kHeadAx), q.y / (kHeadAy * kHeadAy), q.z / (kHeadAz * kHeadAz)});
}

void pose_hand(Rng& r, Skeleton& s, int side_index, Vec3 wrist, Vec3 forearm, const Mat3& torso, Difficulty diff) {
  const float side = side_index == 0 ? 1.0f : -1.0f;
  // Hand frame: v along the fingers, n out of the palm, u toward the thumb. In the anatomical
  // position (arm down, palm forward) the thumbs point away from the body.
  Vec3 v = forearm;
  Vec3 n = orthogonal(torso * Vec3{0, 0, 1}, v, {0, -1, 0});
  n = rotate_about(n, v, side * r.deg(-60, 190));
  Vec3 u = side * cross(v, n);
  const float wrist_flex = r.deg(-35, 45);
  v = rotate_about(v, u, wrist_flex);
  n = rotate_about(n, u, wrist_flex);
  s.hand_u[side_index] = u;
  s.hand_v[side_index] = v;
  s.hand_n[side_index] = n;
  auto at = [&](float a, float b, float c) { return wrist + a * u + b * v + c * n; };

  // Curl per finger (thumb first), by hand pose.
  std::array<float, 5> curl{};
  const int kind = r.pick({3, 3, 2, 1.5f, diff == Difficulty::easy ? 0.5f : 2.0f});
  for (int f = 0; f < 5; ++f) {
    switch (kind) {
      case 0: curl[f] = r.u(0.0f, 0.25f); break;   // open
      case 1: curl[f] = r.u(0.2f, 0.75f); break;   // relaxed
      case 2: curl[f] = r.u(1.15f, 1.6f); break;   // fist
      case 3: curl[f] = f == 1 ? r.u(0.0f, 0.2f) : r.u(1.1f, 1.6f); break;  // pointing
      default: curl[f] = r.u(0.0f, 1.6f); break;
    }
  }
  curl[0] *= 0.5f;
  const int h = kHand[side_index];
  s.p[h] = wrist;
  // Thumb: from the base of the palm, out toward the thumb side and across the palm.
  const float spread = r.u(0.3f, 1.6f);
  {
    const float a = r.u(0.5f, 1.0f), opp = r.u(0.1f, 0.7f);
    Vec3 d = normalize(std::sin(a) * u + std::cos(a) * v + opp * n);
    Vec3 q = at(0.08f, 0.07f, 0.02f);
    const float len[3] = {0.15f, 0.11f, 0.09f};
    s.p[h + 1] = q;
    for (int j = 0; j < 3; ++j) {
      d = bend(d, n - 0.5f * u, curl[0] * (j == 0 ? 0.6f : 1.0f));
      q = q + len[j] * d;
      s.p[h + 2 + j] = q;
    }
  }
  const float base_u[4] = {0.11f, 0.035f, -0.04f, -0.11f};
  const float base_v[4] = {0.40f, 0.42f, 0.40f, 0.36f};
  const float fan[4] = {0.12f, 0.0f, -0.1f, -0.22f};
  const float len[4][3] = {{0.15f, 0.09f, 0.075f}, {0.165f, 0.105f, 0.08f}, {0.155f, 0.1f, 0.075f}, {0.12f, 0.075f, 0.065f}};
  for (int f = 0; f < 4; ++f) {
    const int b = h + 5 + 4 * f;
    Vec3 q = at(base_u[f], base_v[f], 0);
    Vec3 d = std::sin(fan[f] * spread) * u + std::cos(fan[f] * spread) * v;
    s.p[b] = q;
    const float ratio[3] = {1.0f, 1.1f, 0.7f};
    for (int j = 0; j < 3; ++j) {
      d = bend(d, n, curl[f + 1] * ratio[j]);
      q = q + len[f][j] * d;
      s.p[b + 1 + j] = q;
    }
  }
}

Skeleton pose_body(Rng& r, Difficulty diff, PoseKind kind) {
  Skeleton s;
  auto& p = s.p;
  std::array<LimbAngles, 2> arm, leg;
  float lean = r.deg(-4, 10), side_lean = r.deg(-6, 6);
  for (int i = 0; i < 2; ++i) {
    arm[i] = {r.deg(3, 25), r.deg(-15, 25), r.deg(0, 45), r.deg(-30, 30)};
    leg[i] = {r.deg(0, 10), r.deg(-5, 8), r.deg(0, 10), 0};
  }
  switch (kind) {
    case PoseKind::standing: break;
    case PoseKind::walking: {
      const float stride = r.deg(15, 35), sign = r.chance(0.5f) ? 1.0f : -1.0f;
      for (int i = 0; i < 2; ++i) {
        const float fwd = (i == 0 ? 1.0f : -1.0f) * sign;
        leg[i].flexion = fwd * stride;
        leg[i].bend = fwd > 0 ? r.deg(0, 15) : r.deg(10, 45);
        arm[i].flexion = -fwd * stride * r.u(0.6f, 1.0f);
        arm[i].abduction = r.deg(3, 15);
        arm[i].bend = r.deg(5, 50);
      }
      break;
    }
    case PoseKind::sitting:
      lean = r.deg(0, 15);
      for (int i = 0; i < 2; ++i) {
        leg[i] = {r.deg(5, 20), r.deg(70, 100), r.deg(70, 110), 0};
        arm[i] = {r.deg(5, 25), r.deg(10, 50), r.deg(30, 100), r.deg(-30, 30)};
      }
      break;
    case PoseKind::arms_raised: {
      const bool both = r.chance(0.6f), first = r.chance(0.5f);
      for (int i = 0; i < 2; ++i) {
        if (both || (i == 0) == first) arm[i] = {r.deg(100, 175), r.deg(-20, 30), r.deg(0, 60), r.deg(-40, 40)};
      }
      break;
    }
    case PoseKind::dynamic:
      lean = r.deg(-10, 30);
      side_lean = r.deg(-15, 15);
      for (int i = 0; i < 2; ++i) {
        arm[i] = {r.deg(-10, 170), r.deg(-45, 120), r.deg(0, 140), r.deg(-90, 90)};
        leg[i] = {r.deg(-5, 45), r.deg(-30, 100), r.deg(0, 120), 0};
      }
      break;
  }
  const Mat3 torso = rot_x(-lean) * rot_z(side_lean);
  s.neck = torso * Vec3{0, -2.95f, 0};
  for (int i = 0; i < 2; ++i) {
    const float side = i == 0 ? 1.0f : -1.0f;
    // Shoulders, arms.
    const Vec3 shoulder = torso * Vec3{side * 0.95f, -2.7f, 0};
    const Vec3 upper = torso * limb_direction(arm[i].abduction, arm[i].flexion, side);
    const Vec3 elbow = shoulder + 1.45f * upper;
    const Vec3 toward = rotate_about(orthogonal(torso * Vec3{0, 0, 1}, upper, torso * Vec3{0, -1, 0}), upper,
                                     side * arm[i].twist);
    const Vec3 fore = bend(upper, toward, arm[i].bend);
    const Vec3 wrist = elbow + 1.2f * fore;
    p[kLeftShoulder + i] = shoulder;
    p[kLeftElbow + i] = elbow;
    p[kLeftWrist + i] = wrist;
    pose_hand(r, s, i, wrist, fore, torso, diff);
    // Hips, legs: knees bend backward.
    const Vec3 hip{side * 0.62f, 0.05f, 0};
    const Vec3 thigh = limb_direction(leg[i].abduction, leg[i].flexion, side);
    const Vec3 knee = hip + 1.8f * thigh;
    const Vec3 shin = bend(thigh, {0, 0, -1}, leg[i].bend);
    const Vec3 ankle = knee + 1.75f * shin;
    p[kLeftHip + i] = hip;
    p[kLeftKnee + i] = knee;
    p[kLeftAnkle + i] = ankle;
    // Foot flat on the ground, toes turned slightly out; big toe on the inside.
    const float out = r.deg(3, 25);
    const Vec3 fwd{side * std::sin(out), 0, std::cos(out)};
    const Vec3 lateral{side * std::cos(out), 0, -std::sin(out)};
    const int f = kFoot + 3 * i;
    p[f + 0] = ankle + Vec3{0, 0.28f, 0} + 0.8f * fwd - 0.07f * lateral;
    p[f + 1] = ankle + Vec3{0, 0.28f, 0} + 0.62f * fwd + 0.17f * lateral;
    p[f + 2] = ankle + Vec3{0, 0.24f, 0} - 0.2f * fwd;
  }
  // Head: turned, nodded and tilted relative to the torso.
  s.head_rot = torso * rot_y(r.deg(-35, 35)) * rot_x(r.deg(-15, 20)) * rot_z(r.deg(-15, 15));
  s.head_centre = s.neck + s.head_rot * Vec3{0, -0.85f, 0.05f};
  s.head_bottom = s.head_centre + s.head_rot * Vec3{0, 0.3f, -0.08f};
  return s;
}

Shape capsule(Vec3 a, Vec3 b, float ra, float rb, const Paint& paint) {
  Shape s;
  s.kind = Shape::Kind::capsule;
  s.p[0] = a;
  s.p[1] = b;
  s.r0 = ra;
  s.r1 = rb;
  s.order = 0.5f * (a.z + b.z);
  s.paint = paint;
  return s;
}
Shape polygon(std::initializer_list<Vec3> pts, float radius, const Paint& paint) {
  Shape s;
  s.kind = Shape::Kind::polygon;
  for (Vec3 q : pts) s.p[s.n++] = q;
  float z = 0;
  for (int i = 0; i < s.n; ++i) z += s.p[i].z;
  s.order = z / s.n;
  s.r0 = radius;
  s.paint = paint;
  return s;
}
Shape ellipse(Vec3 c, float rx, float ry, float angle, const Paint& paint) {
  Shape s;
  s.kind = Shape::Kind::ellipse;
  s.p[0] = c;
  s.r0 = rx;
  s.r1 = ry;
  s.angle = angle;
  s.order = c.z;
  s.paint = paint;
  return s;
}

}  // namespace

Person sample_person(Generator& gen, Difficulty diff) {
  Rng r{gen};
  const Look look = sample_look(r);
  const bool easy = diff == Difficulty::easy, hard = diff == Difficulty::hard;
  const PoseKind kind = static_cast<PoseKind>(easy ? r.pick({5, 3.5f, 0, 1.5f, 0}) : hard ? r.pick({2, 2, 2, 1.5f, 2.5f})
                                                                                          : r.pick({3, 2.5f, 1.5f, 1.5f, 1.5f}));
  Skeleton s = pose_body(r, diff, kind);
  const std::array<Vec2, 68> face = face_template(r);

  // The view: mostly facing the camera, also from behind and in profile.
  const int view = r.pick({easy ? 8.0f : 5.0f, easy ? 0.5f : 2.0f, easy ? 1.5f : 3.0f});
  float yaw = r.deg(-35, 35);
  if (view == 1) yaw += kPi;
  if (view == 2) yaw += (r.chance(0.5f) ? 1.0f : -1.0f) * 90 * kDeg;
  const Mat3 world = rot_y(yaw);

  Person person;
  auto& P = person.points;
  const Mat3 head = world * s.head_rot;
  const Vec3 hc = world * s.head_centre;
  // Face landmarks and the head points derived from them.
  std::array<Vec3, 68> normals{};
  for (int k = 0; k < 68; ++k) {
    const Vec3 q = face_point_on_head(face[k], k);
    P[kFace + k] = hc + head * q;
    normals[k] = head * head_normal(q);
  }
  const float facing = (head * Vec3{0, 0, 1}).z;
  person.face_toward_camera = facing >= std::cos(70 * kDeg);
  for (int i = 0; i < 2; ++i) {
    Vec3 c{};
    for (int k = 0; k < 6; ++k) c = c + (1.0f / 6) * P[kFace + (i == 0 ? 42 : 36) + k];
    P[kLeftEye + i] = c;
  }
  P[kNose] = P[kFace + 30];
  P[kLeftEar] = hc + head * Vec3{kHeadAx, 0.02f, -0.03f};
  P[kRightEar] = hc + head * Vec3{-kHeadAx, 0.02f, -0.03f};
  for (int k = 0; k < Person::kPoints; ++k) {
    const bool on_face = k >= kFace && k < kFace + 68;
    const bool on_head = k <= kRightEar;
    if (!on_face && !on_head) P[k] = world * s.p[k];
    person.labelable[k] = true;
    person.slack[k] = on_face || on_head ? 0.12f : k >= kHand[0] ? 0.1f : k >= kFoot ? 0.15f : 0.3f;
  }
  for (int k = 0; k < 68; ++k) {
    person.labelable[kFace + k] = person.face_toward_camera;
    person.turned_away[kFace + k] = normals[k].z < 0.05f;
  }
  // Seen from behind, the nose and eyes cannot be placed; turned aside, the far eye is hidden.
  for (int k : {kNose, kLeftEye, kRightEye}) person.labelable[k] = facing > 0;
  person.turned_away[kNose] = normals[30].z < 0.05f;
  person.turned_away[kLeftEye] = normals[45].z < 0.05f && normals[42].z < 0.05f;
  person.turned_away[kRightEye] = normals[36].z < 0.05f && normals[39].z < 0.05f;
  person.head_height = 1.0f;
  person.hand_length = {0.78f, 0.78f};

  // Shapes.
  auto& shapes = person.shapes;
  const Paint skin = flat(look.skin), skin_dark = flat(scaled(look.skin, 0.78f));
  Paint shirt = flat(look.shirt);
  shirt.stripe_amp = look.stripe_amp;
  shirt.stripe_period = look.stripe_period;
  shirt.dir_x = 0;
  shirt.dir_y = 1;
  const Paint pants = flat(look.pants), shoes = flat(look.shoes, 0.5f), hair = flat(look.hair, 0.3f);
  const Vec3 neck = world * s.neck;
  shapes.push_back(polygon({P[kLeftShoulder], P[kRightShoulder], P[kRightHip], P[kLeftHip]}, 0.3f, shirt));
  shapes.push_back(capsule(P[kLeftHip], P[kRightHip], 0.34f, 0.34f, pants));
  shapes.push_back(capsule(neck, world * s.head_bottom, 0.19f, 0.17f, skin_dark));
  for (int i = 0; i < 2; ++i) {
    shapes.push_back(capsule(P[kLeftShoulder + i], P[kLeftElbow + i], 0.21f, 0.16f, shirt));
    shapes.push_back(capsule(P[kLeftElbow + i], P[kLeftWrist + i], 0.15f, 0.1f, look.long_sleeves ? shirt : skin));
    shapes.push_back(capsule(P[kLeftHip + i], P[kLeftKnee + i], 0.3f, 0.22f, pants));
    shapes.push_back(capsule(P[kLeftKnee + i], P[kLeftAnkle + i], 0.21f, 0.13f, look.long_pants ? pants : skin));
    const int f = kFoot + 3 * i;
    shapes.push_back(capsule(P[f + 2], lerp(P[f], P[f + 1], 0.5f), 0.12f, 0.11f, shoes));
    shapes.push_back(capsule(P[f], P[f + 1], 0.08f, 0.07f, shoes));
    // Hand: palm, then fingers.
    const int h = kHand[i];
    Shape palm = polygon({P[h], P[h + 1], P[h + 5], P[h + 9], P[h + 13], P[h + 17]}, 0.04f, skin);
    shapes.push_back(palm);
    for (int fi = 0; fi < 5; ++fi) {
      const int b = fi == 0 ? h + 1 : h + 1 + 4 * fi;
      const float r0 = fi == 0 ? 0.055f : 0.045f;
      for (int j = 0; j < 3; ++j) {
        shapes.push_back(capsule(P[b + j], P[b + j + 1], r0 - 0.006f * j, r0 - 0.006f * (j + 1), skin));
      }
    }
  }
  // Head: hair behind (or, seen from behind, in front of) the skull, ears, then the face.
  {
    const Vec3 up = head * Vec3{0, -1, 0}, fwd = head * Vec3{0, 0, 1};
    const float angle = std::atan2(up.x, -up.y);
    const float horiz = std::sqrt(fwd.x * fwd.x + fwd.z * fwd.z) + 1e-6f;
    const float cz = fwd.z / horiz, sx = fwd.x / horiz;
    const float rx = std::sqrt(kHeadAx * kHeadAx * cz * cz + kHeadAz * kHeadAz * sx * sx);
    const Vec3 hair_c = hc + head * Vec3{0, -0.1f, -0.1f};
    shapes.push_back(ellipse(hair_c, rx * 1.06f, kHeadAy * 0.9f, angle, hair));
    Shape skull = ellipse(hc + head * Vec3{0, -0.08f, 0}, rx, kHeadAy * 0.86f, angle, skin);
    skull.order = hc.z;
    shapes.push_back(skull);
    for (int k : {kLeftEar, kRightEar}) shapes.push_back(ellipse(P[k], 0.06f, 0.1f, angle, skin));
    // Seen from the front, hair covers the top of the skull down to above the brows (some people
    // are bald); it sits between the skull and the face's features.
    if (facing > 0 && r.chance(0.85f)) {
      Shape cap = ellipse(hc + head * Vec3{0, -0.37f, 0.12f}, rx * r.u(0.9f, 1.02f), r.u(0.12f, 0.2f), angle, hair);
      cap.order = hc.z + 0.0005f;
      shapes.push_back(cap);
    }
    if (facing > 0) {
      float order = hc.z + 0.001f;
      auto on_face = [&](Shape sh) {
        sh.order = order;
        order += 0.001f;
        shapes.push_back(sh);
      };
      Shape jaw;
      jaw.kind = Shape::Kind::polygon;
      for (int k = 0; k <= 16; ++k) jaw.p[jaw.n++] = P[kFace + k];
      jaw.r0 = 0.02f;
      jaw.paint = skin;
      on_face(jaw);
      auto visible = [&](int k) { return normals[k].z > 0.05f; };
      const Paint brow = flat(look.hair, 0.2f), line = flat(scaled(look.skin, 0.6f), 0.2f);
      for (int b : {17, 22}) {
        for (int k = 0; k < 4; ++k) {
          if (visible(b + k)) on_face(capsule(P[kFace + b + k], P[kFace + b + k + 1], 0.04f, 0.035f, brow));
        }
      }
      for (int k = 27; k < 30; ++k) {
        if (visible(k)) on_face(capsule(P[kFace + k], P[kFace + k + 1], 0.02f, 0.025f, line));
      }
      for (int k = 31; k < 35; ++k) {
        if (visible(k)) on_face(capsule(P[kFace + k], P[kFace + k + 1], 0.02f, 0.02f, line));
      }
      const Paint white = flat({240, 240, 235}, 0.5f), iris = flat({35, 25, 20}, 0.2f);
      for (int b : {36, 42}) {
        if (!visible(b) && !visible(b + 3)) continue;
        Shape eye;
        eye.kind = Shape::Kind::polygon;
        Vec3 c{};
        for (int k = 0; k < 6; ++k) {
          eye.p[eye.n++] = P[kFace + b + k];
          c = c + (1.0f / 6) * P[kFace + b + k];
        }
        eye.r0 = 0.005f;
        eye.paint = white;
        on_face(eye);
        on_face(ellipse(c, 0.035f, 0.035f, 0, iris));
      }
      if (visible(51) || visible(57)) {
        Shape lips;
        lips.kind = Shape::Kind::polygon;
        for (int k = 48; k < 60; ++k) lips.p[lips.n++] = P[kFace + k];
        lips.r0 = 0.01f;
        lips.paint = flat(look.lips, 0.3f);
        on_face(lips);
        Shape inner;
        inner.kind = Shape::Kind::polygon;
        for (int k = 60; k < 68; ++k) inner.p[inner.n++] = P[kFace + k];
        inner.r0 = 0.004f;
        inner.paint = flat(scaled(look.lips, 0.45f), 0.1f);
        on_face(inner);
      }
    }
  }
  std::stable_sort(shapes.begin(), shapes.end(), [](const Shape& a, const Shape& b) { return a.order < b.order; });
  return person;
}

void Person::place(float scale, float roll, Vec2 offset) {
  const float c = std::cos(roll), s = std::sin(roll);
  auto map = [&](Vec3 q) {
    return Vec3{offset.x + scale * (c * q.x - s * q.y), offset.y + scale * (s * q.x + c * q.y), scale * q.z};
  };
  for (Vec3& q : points) q = map(q);
  for (float& v : slack) v *= scale;
  head_height *= scale;
  for (float& v : hand_length) v *= scale;
  for (Shape& sh : shapes) {
    const int n = sh.kind == Shape::Kind::capsule ? 2 : sh.kind == Shape::Kind::ellipse ? 1 : sh.n;
    for (int i = 0; i < n; ++i) sh.p[i] = map(sh.p[i]);
    sh.r0 *= scale;
    sh.r1 *= scale;
    sh.angle += roll;
    sh.order *= scale;
    sh.paint.stripe_period *= scale;
    const float dx = sh.paint.dir_x, dy = sh.paint.dir_y;
    sh.paint.dir_x = c * dx - s * dy;
    sh.paint.dir_y = s * dx + c * dy;
  }
}

std::array<float, 4> Person::bounds() const {
  std::array<float, 4> b = {points[0].x, points[0].y, points[0].x, points[0].y};
  auto grow = [&](float x, float y, float r) {
    b[0] = std::min(b[0], x - r);
    b[1] = std::min(b[1], y - r);
    b[2] = std::max(b[2], x + r);
    b[3] = std::max(b[3], y + r);
  };
  for (const Vec3& q : points) grow(q.x, q.y, 0);
  for (const Shape& sh : shapes) {
    const int n = sh.kind == Shape::Kind::capsule ? 2 : sh.kind == Shape::Kind::ellipse ? 1 : sh.n;
    for (int i = 0; i < n; ++i) grow(sh.p[i].x, sh.p[i].y, std::max(sh.r0, sh.r1));
  }
  return b;
}

void Person::draw(Canvas& canvas, uint8_t tag) const {
  // Below half a pixel a shape would vanish between pixel centres; small people keep thin
  // fingers and features rather than losing them.
  constexpr float kMinRadius = 0.5f;
  std::array<Vec2, 17> pts;
  for (const Shape& sh : shapes) {
    switch (sh.kind) {
      case Shape::Kind::capsule:
        canvas.capsule({sh.p[0].x, sh.p[0].y}, {sh.p[1].x, sh.p[1].y}, std::max(sh.r0, kMinRadius),
                       std::max(sh.r1, kMinRadius), sh.p[0].z, sh.p[1].z, sh.paint, tag);
        break;
      case Shape::Kind::ellipse:
        canvas.ellipse({sh.p[0].x, sh.p[0].y}, std::max(sh.r0, kMinRadius), std::max(sh.r1, kMinRadius), sh.angle,
                       sh.order, sh.paint, tag);
        break;
      case Shape::Kind::polygon:
        for (int i = 0; i < sh.n; ++i) pts[i] = {sh.p[i].x, sh.p[i].y};
        canvas.polygon(pts.data(), sh.n, std::max(sh.r0, kMinRadius * 0.5f), sh.order, sh.paint, tag);
        break;
    }
  }
}

}  // namespace wb::data::synth
