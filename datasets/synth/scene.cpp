#include "datasets/synth/scene.h"

#include <algorithm>
#include <cmath>

#include "datasets/synth/background.h"
#include "datasets/synth/random.h"
#include "tensor/error.h"

namespace wb::data::synth {
namespace {

constexpr float kPi = 3.14159265358979f;
// Units (head heights) from the top of the head to the soles of a standing person.
constexpr float kStandingHeight = 7.8f;
// Parts as the keypoint order slices them: body, foot, face, left hand, right hand.
constexpr int kPartBegin[6] = {0, 17, 23, 91, 112, 133};
// Smallest face (head height) and hand (wrist to middle fingertip) in pixels that get landmarks:
// below that, 68 or 21 points would crowd into a few pixels, and real annotators skip them too.
constexpr float kMinHeadPx = 8, kMinHandPx = 6;
// A part is annotated only when at least this share of its points is visible.
constexpr float kMinVisibleShare = 0.3f;
// People with fewer visible pixels are not annotated (nothing of them can be seen).
constexpr int kMinArea = 32;

double round2(double v) { return std::round(v * 100.0) / 100.0; }

// Occluders are painted right after the person they hide, so that people in front stay in front.
struct Occluder {
  int kind = 0;  // 0 pole, 1 box, 2 blob
  Vec2 a, b;
  float r0 = 0, r1 = 0;
  Paint paint;
};

Occluder sample_occluder(Rng& r, const std::array<float, 4>& box) {
  Occluder o;
  const float bw = box[2] - box[0], bh = box[3] - box[1];
  o.paint.rgb = {r.u(20, 235), r.u(20, 235), r.u(20, 235)};
  o.paint.shade = r.u(0, 0.4f);
  o.kind = r.pick({2, 2, 2});
  const float x = r.u(box[0] + 0.15f * bw, box[2] - 0.15f * bw);
  switch (o.kind) {
    case 0: {  // a pole or tree trunk across the person
      const float tilt = r.deg(-15, 15);
      o.a = {x - std::sin(tilt) * 2 * bh, box[1] - bh};
      o.b = {x + std::sin(tilt) * 2 * bh, box[3] + bh};
      o.r0 = o.r1 = std::max(1.5f, bh * r.u(0.03f, 0.07f));
      break;
    }
    case 1:  // a table, car or wall in front of the lower (or upper) body
      o.a = {r.u(box[0] - bw, x), r.chance(0.75f) ? r.u(box[1] + 0.35f * bh, box[1] + 0.8f * bh) : box[1] - bh};
      o.b = {r.u(x, box[2] + bw), o.a.y < box[1] ? r.u(box[1] + 0.1f * bh, box[1] + 0.4f * bh) : box[3] + bh};
      break;
    default:  // a bush, ball or bag
      o.a = {x, r.u(box[1] + 0.2f * bh, box[3])};
      o.r0 = bh * r.u(0.08f, 0.25f);
      o.r1 = o.r0 * r.u(0.6f, 1.2f);
      break;
  }
  return o;
}

void draw_occluder(Canvas& canvas, const Occluder& o) {
  switch (o.kind) {
    case 0:
      canvas.capsule(o.a, o.b, o.r0, o.r1, 0, 0, o.paint, kOccluderTag);
      break;
    case 1: {
      const Vec2 pts[4] = {o.a, {o.b.x, o.a.y}, o.b, {o.a.x, o.b.y}};
      canvas.polygon(pts, 4, 1, 0, o.paint, kOccluderTag);
      break;
    }
    default:
      canvas.ellipse(o.a, o.r0, o.r1, 0, 0, o.paint, kOccluderTag);
      break;
  }
}

// A point counts as seen when a pixel within one pixel of it shows this person's surface at (or behind,
// up to the part's thickness) the point's depth. The one-pixel tolerance keeps fingertips and
// features of small people, which may fall between pixel centres, visible.
bool seen(const Canvas& canvas, uint8_t tag, const Vec3& q, float slack) {
  const int ix = static_cast<int>(std::lround(q.x)), iy = static_cast<int>(std::lround(q.y));
  for (int y = std::max(0, iy - 1); y <= std::min(canvas.height() - 1, iy + 1); ++y) {
    for (int x = std::max(0, ix - 1); x <= std::min(canvas.width() - 1, ix + 1); ++x) {
      if (canvas.tag(x, y) == tag && canvas.depth(x, y) <= q.z + slack) return true;
    }
  }
  return false;
}

Box box_of(const std::vector<double>& kp, int begin, int end) {
  double x0 = 1e30, y0 = 1e30, x1 = -1e30, y1 = -1e30;
  for (int k = begin; k < end; ++k) {
    if (kp[3 * k + 2] <= 0) continue;
    x0 = std::min(x0, kp[3 * k]), x1 = std::max(x1, kp[3 * k]);
    y0 = std::min(y0, kp[3 * k + 1]), y1 = std::max(y1, kp[3 * k + 1]);
  }
  if (x1 < x0) return {};
  return {x0, y0, round2(x1 - x0), round2(y1 - y0)};
}

struct Silhouette {
  int64_t area = 0;
  Canvas::Extent extent;
};

// The person's visible pixels as COCO's uncompressed RLE (column-major runs, background first).
// Only the silhouette's extent is scanned: every pixel outside it is background.
std::vector<int64_t> silhouette_rle(const Canvas& canvas, uint8_t tag, const Canvas::Extent& e) {
  const int64_t H = canvas.height();
  std::vector<int64_t> rle;
  int64_t last = 0;  // pixel index where the current run began
  bool inside = false;
  auto flip = [&](int64_t at) {
    rle.push_back(at - last);
    last = at;
    inside = !inside;
  };
  for (int x = e.x0; x <= e.x1; ++x) {
    for (int y = e.y0; y <= e.y1; ++y) {
      if ((canvas.tag(x, y) == tag) != inside) flip(x * H + y);
    }
    // The next pixel in column-major order lies outside the extent unless the extent spans whole
    // columns and this is not its last one.
    const bool next_in_extent = e.y0 == 0 && e.y1 == H - 1 && x < e.x1;
    if (inside && !next_in_extent) flip(x * H + e.y1 + 1);
  }
  rle.push_back(static_cast<int64_t>(canvas.width()) * H - last);
  return rle;
}

PersonAnnotation annotate(const Person& p, uint8_t tag, const Silhouette& sil, const Canvas& canvas) {
  PersonAnnotation a;
  a.category_id = 1;
  a.keypoints.assign(3 * Person::kPoints, 0.0);
  const float w = static_cast<float>(canvas.width() - 1), h = static_cast<float>(canvas.height() - 1);
  for (int k = 0; k < Person::kPoints; ++k) {
    const Vec3& q = p.points[k];
    const double x = round2(q.x), y = round2(q.y);
    if (!p.labelable[k] || !(x >= 0 && x <= w && y >= 0 && y <= h)) continue;
    a.keypoints[3 * k] = x;
    a.keypoints[3 * k + 1] = y;
    a.keypoints[3 * k + 2] = !p.turned_away[k] && seen(canvas, tag, q, p.slack[k]) ? 2 : 1;
  }
  // Parts too small or too hidden to annotate become all zeros, as in the real set.
  auto keep_part = [&](int part, bool big_enough) {
    int shown = 0;
    for (int k = kPartBegin[part]; k < kPartBegin[part + 1]; ++k) shown += a.keypoints[3 * k + 2] == 2;
    const bool keep = big_enough && shown >= std::max(1.0f, kMinVisibleShare * (kPartBegin[part + 1] - kPartBegin[part]));
    if (!keep) std::fill(a.keypoints.begin() + 3 * kPartBegin[part], a.keypoints.begin() + 3 * kPartBegin[part + 1], 0.0);
    return keep;
  };
  a.foot_valid = keep_part(1, true);
  a.face_valid = keep_part(2, p.face_toward_camera && p.head_height >= kMinHeadPx);
  a.lefthand_valid = keep_part(3, p.hand_length[0] >= kMinHandPx);
  a.righthand_valid = keep_part(4, p.hand_length[1] >= kMinHandPx);
  for (int k = 0; k < 17; ++k) a.num_keypoints += a.keypoints[3 * k + 2] > 0;
  a.face_box = box_of(a.keypoints, kPartBegin[2], kPartBegin[3]);
  a.lefthand_box = box_of(a.keypoints, kPartBegin[3], kPartBegin[4]);
  a.righthand_box = box_of(a.keypoints, kPartBegin[4], kPartBegin[5]);
  // The box holds the visible silhouette and every labelled point (hidden ones included).
  double x0 = sil.extent.x0, y0 = sil.extent.y0, x1 = sil.extent.x1 + 1, y1 = sil.extent.y1 + 1;
  for (int k = 0; k < Person::kPoints; ++k) {
    if (a.keypoints[3 * k + 2] <= 0) continue;
    x0 = std::min(x0, a.keypoints[3 * k]), x1 = std::max(x1, a.keypoints[3 * k]);
    y0 = std::min(y0, a.keypoints[3 * k + 1]), y1 = std::max(y1, a.keypoints[3 * k + 1]);
  }
  a.bbox = {x0, y0, round2(x1 - x0), round2(y1 - y0)};
  a.area = static_cast<double>(sil.area);
  a.segmentation_rle = silhouette_rle(canvas, tag, sil.extent);
  return a;
}

}  // namespace

Scene render_scene(const SceneOptions& options, uint64_t seed) {
  check(options.width >= 32 && options.height >= 32 && options.width <= 8192 && options.height <= 8192,
        "synthetic scene: size ", options.width, "x", options.height, " is outside 32x32 .. 8192x8192");
  Generator gen(seed);
  Rng r{gen};
  const Difficulty diff = options.difficulty;
  const float W = static_cast<float>(options.width), H = static_cast<float>(options.height);
  const float image_scale = std::min(W / 640.0f, H / 480.0f);
  Canvas canvas(options.width, options.height);
  paint_background(canvas, r, diff, image_scale);

  // People: sizes log-uniform (many small ones), placed anywhere, often next to or over another.
  const int count = diff == Difficulty::easy ? r.integer(1, 3) : diff == Difficulty::normal ? r.integer(1, 5)
                                                                                            : r.integer(2, 6);
  const float min_h = diff == Difficulty::easy ? 120.0f : 50.0f, max_h = diff == Difficulty::hard ? 400.0f : 450.0f;
  std::vector<Person> people;
  std::vector<std::array<float, 4>> boxes;
  struct Item {
    float key;
    int person;  // -1 for an occluder
    int occluder;
  };
  std::vector<Item> items;
  for (int k = 0; k < count; ++k) {
    Person p = sample_person(gen, diff);
    const float height = r.log_u(min_h, max_h) * image_scale;
    const float roll = diff == Difficulty::hard && r.chance(0.2f) ? r.deg(-40, 40) : r.deg(-8, 8);
    p.place(height / kStandingHeight, roll, {0, 0});
    const std::array<float, 4> b = p.bounds();
    float cx = r.u(0.05f * W, 0.95f * W), cy = r.u(0.2f * H, 0.8f * H);
    if (k > 0 && r.chance(diff == Difficulty::easy ? 0.2f : 0.5f)) {
      const std::array<float, 4>& o = boxes[r.integer(0, k - 1)];
      cx = 0.5f * (o[0] + o[2]) + r.u(-0.7f, 0.7f) * (o[2] - o[0]);
      cy = 0.5f * (o[1] + o[3]) + r.u(-0.25f, 0.25f) * (o[3] - o[1]);
    }
    p.place(1, 0, {cx - 0.5f * (b[0] + b[2]), cy - 0.5f * (b[1] + b[3])});
    boxes.push_back(p.bounds());
    // Larger people are usually nearer the camera, so they are usually painted later.
    items.push_back({height * r.u(0.8f, 1.25f), k, -1});
    people.push_back(std::move(p));
  }
  const int occluders = diff == Difficulty::easy ? (r.chance(0.2f) ? 1 : 0) : diff == Difficulty::normal ? r.integer(0, 2)
                                                                                                        : r.integer(1, 3);
  std::vector<Occluder> occ;
  for (int i = 0; i < occluders; ++i) {
    const int target = r.integer(0, count - 1);
    occ.push_back(sample_occluder(r, boxes[target]));
    items.push_back({items[target].key + 1e-3f * (i + 1), -1, i});
  }
  std::stable_sort(items.begin(), items.end(), [](const Item& a, const Item& b) { return a.key < b.key; });
  for (const Item& it : items) {
    if (it.person >= 0) {
      people[it.person].draw(canvas, person_tag(it.person));
    } else {
      draw_occluder(canvas, occ[it.occluder]);
    }
  }

  // What each person shows in the finished picture.
  std::vector<Silhouette> sil(count);
  for (int y = 0; y < canvas.height(); ++y) {
    for (int x = 0; x < canvas.width(); ++x) {
      const int t = canvas.tag(x, y) - 1;
      if (t < 0 || t >= count) continue;
      Silhouette& s = sil[t];
      ++s.area;
      s.extent.x0 = std::min(s.extent.x0, x), s.extent.x1 = std::max(s.extent.x1, x);
      s.extent.y0 = std::min(s.extent.y0, y), s.extent.y1 = std::max(s.extent.y1, y);
    }
  }
  Scene scene;
  for (int k = 0; k < count; ++k) {
    if (sil[k].area < kMinArea) continue;
    scene.people.push_back(annotate(people[k], person_tag(k), sil[k], canvas));
  }
  apply_camera_effects(canvas.image(), r, diff);
  scene.image = std::move(canvas.image());
  return scene;
}

std::vector<PersonBox> detector_boxes(const std::vector<PersonAnnotation>& people, int64_t image_id, int width,
                                      int height, Difficulty difficulty, uint64_t seed) {
  Generator gen(seed);
  Rng r{gen};
  const float level = difficulty == Difficulty::easy ? 0.5f : difficulty == Difficulty::normal ? 1.0f : 1.6f;
  std::vector<PersonBox> out;
  auto add = [&](double x0, double y0, double x1, double y1, double score) {
    x0 = std::clamp(x0, 0.0, width - 1.0), x1 = std::clamp(x1, x0 + 1, static_cast<double>(width));
    y0 = std::clamp(y0, 0.0, height - 1.0), y1 = std::clamp(y1, y0 + 1, static_cast<double>(height));
    out.push_back({image_id, 1, {round2(x0), round2(y0), round2(x1 - x0), round2(y1 - y0)}, std::round(score * 1000) / 1000});
  };
  for (const PersonAnnotation& a : people) {
    const Box& b = a.bbox;
    // Small and mostly hidden people are missed more often and scored lower.
    const double visible = std::clamp(a.area / std::max(1.0, b.w * b.h) / 0.45, 0.0, 1.0);
    const double small = std::clamp(1.0 - std::sqrt(a.area) / 48.0, 0.0, 1.0);
    if (r.chance(static_cast<float>(0.04 * level + 0.3 * small * level + 0.1 * (1 - visible)))) continue;
    const double j = 0.05 * level;
    auto jitter = [&](double extent) { return static_cast<double>(gen.normal(0.0, j * extent)); };
    const double score = std::clamp(r.u(0.55f, 1.0f) - 0.3 * small - 0.2 * (1 - visible), 0.06, 1.0);
    add(b.x + jitter(b.w), b.y + jitter(b.h), b.x + b.w + jitter(b.w), b.y + b.h + jitter(b.h), score);
    if (r.chance(0.08f * level)) {  // a duplicate that NMS left behind
      add(b.x + jitter(2 * b.w), b.y + jitter(2 * b.h), b.x + b.w + jitter(2 * b.w), b.y + b.h + jitter(2 * b.h),
          score * r.u(0.2f, 0.7f));
    }
  }
  const int false_positives = r.integer(0, static_cast<int>(std::lround(1 + level)));
  const float scale = std::min(width / 640.0f, height / 480.0f);
  for (int i = 0; i < false_positives; ++i) {
    const float h = r.log_u(40, 300) * scale, w = h * r.u(0.3f, 0.8f);
    const float x = r.u(-0.2f * w, width - 0.8f * w), y = r.u(-0.2f * h, height - 0.8f * h);
    add(x, y, x + w, y + h, r.u(0.05f, 0.6f));
  }
  std::stable_sort(out.begin(), out.end(), [](const PersonBox& a, const PersonBox& b) { return a.score > b.score; });
  return out;
}

Difficulty parse_difficulty(const std::string& name) {
  if (name == "easy") return Difficulty::easy;
  if (name == "normal") return Difficulty::normal;
  if (name == "hard") return Difficulty::hard;
  fail("--difficulty: expected easy, normal or hard, got \"", name, "\"");
}

const char* difficulty_name(Difficulty difficulty) {
  switch (difficulty) {
    case Difficulty::easy: return "easy";
    case Difficulty::normal: return "normal";
    case Difficulty::hard: return "hard";
  }
  return "normal";
}

}  // namespace wb::data::synth
