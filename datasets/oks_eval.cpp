#include "datasets/oks_eval.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <map>
#include <numeric>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>

#include "pose/keypoints.h"
#include "tensor/error.h"

namespace wb::data {
namespace {

constexpr int kMaxDets = 20;
constexpr int kNumThresholds = 10;
constexpr int kNumRecall = 101;
constexpr double kEps = std::numeric_limits<double>::epsilon();  // np.spacing(1)

// Area ranges all, medium, large; both ends inclusive.
constexpr std::array<std::array<double, 2>, 3> kAreaRanges = {{{0.0, 1e10}, {1024.0, 9216.0}, {9216.0, 1e10}}};
constexpr int kNumAreas = 3;

// numpy.linspace(start, stop, num): start + i * step, with the last entry set to stop exactly.
// The thresholds must be bit-identical to xtcocotools' (recThrs[i] = i * 0.01, not i / 100).
template <int N>
std::array<double, N> linspace(double start, double stop) {
  std::array<double, N> v{};
  const double step = (stop - start) / (N - 1);
  for (int i = 0; i < N; ++i) v[i] = i * step + start;
  v[N - 1] = stop;
  return v;
}
const std::array<double, kNumThresholds> kOksThresholds = linspace<kNumThresholds>(0.5, 0.95);
const std::array<double, kNumRecall> kRecallThresholds = linspace<kNumRecall>(0.0, 1.0);

struct Gt {
  const PersonAnnotation* ann;
  bool ignore;  // crowd, or no labelled keypoint in the pass
};

struct Dt {
  const KeypointResult* res;
  double score;  // the pass's ranking score
  double area;   // from loadRes: body keypoint extents, or the result's bbox
};

// What evaluateImg returns for one image, category and area range: DTs in ranked order (top 20).
struct ImageEval {
  std::vector<double> scores;
  std::vector<std::array<bool, kNumThresholds>> matched, ignored;  // per DT
  std::vector<bool> gt_ignored;
};

// loadRes's area: the first result decides. With a non-empty bbox it is w*h for every result;
// otherwise the extents of the 17 body keypoints, whatever their scores.
std::vector<double> result_areas(const std::vector<KeypointResult>& results) {
  std::vector<double> areas(results.size());
  const bool from_boxes = !results.empty() && results[0].bbox.has_value();
  for (size_t i = 0; i < results.size(); ++i) {
    const KeypointResult& r = results[i];
    if (from_boxes) {
      check(r.bbox.has_value(), "oks evaluation: result #0 has a bbox, so every result needs one, but result #", i,
            " (image ", r.image_id, ") has none");
      areas[i] = r.bbox->w * r.bbox->h;
      continue;
    }
    double x0 = r.keypoints[0], x1 = x0, y0 = r.keypoints[1], y1 = y0;
    for (int k = 1; k < 17; ++k) {
      x0 = std::min(x0, r.keypoints[3 * k]);
      x1 = std::max(x1, r.keypoints[3 * k]);
      y0 = std::min(y0, r.keypoints[3 * k + 1]);
      y1 = std::max(y1, r.keypoints[3 * k + 1]);
    }
    areas[i] = (x1 - x0) * (y1 - y0);
  }
  return areas;
}

// computeOks: rows are DTs (ranked), columns GTs (file order).
std::vector<std::vector<double>> compute_oks(const std::vector<Dt>& dts, const std::vector<Gt>& gts, const OksPass& pass,
                                             const std::vector<double>& vars) {
  const int n = pass.end - pass.begin;
  std::vector<std::vector<double>> oks(dts.size(), std::vector<double>(gts.size(), 0.0));
  for (size_t j = 0; j < gts.size(); ++j) {
    const PersonAnnotation& g = *gts[j].ann;
    const double* gk = g.keypoints.data() + 3 * pass.begin;
    int labelled = 0;
    for (int i = 0; i < n; ++i) labelled += gk[3 * i + 2] > 0;
    // Without labelled points the distance is to the GT box grown by its size on every side.
    const double bx0 = g.bbox.x - g.bbox.w, bx1 = g.bbox.x + g.bbox.w * 2;
    const double by0 = g.bbox.y - g.bbox.h, by1 = g.bbox.y + g.bbox.h * 2;
    for (size_t d = 0; d < dts.size(); ++d) {
      const double* dk = dts[d].res->keypoints.data() + 3 * pass.begin;
      double sum = 0.0;
      for (int i = 0; i < n; ++i) {
        const double xd = dk[3 * i], yd = dk[3 * i + 1];
        double dx, dy;
        if (labelled > 0) {
          if (!(gk[3 * i + 2] > 0)) continue;
          dx = xd - gk[3 * i];
          dy = yd - gk[3 * i + 1];
        } else {
          dx = std::max(0.0, bx0 - xd) + std::max(0.0, xd - bx1);
          dy = std::max(0.0, by0 - yd) + std::max(0.0, yd - by1);
        }
        const double e = (dx * dx + dy * dy) / vars[i] / (g.area + kEps) / 2;
        sum += std::exp(-e);
      }
      oks[d][j] = sum / (labelled > 0 ? labelled : n);
    }
  }
  return oks;
}

// evaluateImg for one area range: greedy matching at every threshold.
ImageEval evaluate_image(const std::vector<Dt>& dts, const std::vector<Gt>& gts_in,
                         const std::vector<std::vector<double>>& oks, const std::array<double, 2>& range) {
  const size_t G = gts_in.size(), D = dts.size();
  std::vector<bool> gt_ignore(G);
  for (size_t j = 0; j < G; ++j) {
    const double area = gts_in[j].ann->area;
    gt_ignore[j] = gts_in[j].ignore || area < range[0] || area > range[1];
  }
  // Non-ignored GTs first, each group in file order.
  std::vector<size_t> order(G);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return gt_ignore[a] < gt_ignore[b]; });

  ImageEval ev;
  ev.gt_ignored.resize(G);
  for (size_t g = 0; g < G; ++g) ev.gt_ignored[g] = gt_ignore[order[g]];
  ev.scores.resize(D);
  ev.matched.assign(D, {});
  ev.ignored.assign(D, {});
  for (size_t d = 0; d < D; ++d) ev.scores[d] = dts[d].score;

  if (G > 0 && D > 0) {
    for (int t = 0; t < kNumThresholds; ++t) {
      std::vector<bool> gt_taken(G, false);
      for (size_t d = 0; d < D; ++d) {
        double best = std::min(kOksThresholds[t], 1 - 1e-10);
        int m = -1;
        for (size_t g = 0; g < G; ++g) {
          const size_t j = order[g];
          if (gt_taken[g] && !gts_in[j].ann->iscrowd) continue;  // crowds absorb any number of DTs
          if (m > -1 && !ev.gt_ignored[m] && ev.gt_ignored[g]) break;
          if (oks[d][j] < best) continue;  // `<`: on equal OKS the later GT wins
          best = oks[d][j];
          m = static_cast<int>(g);
        }
        if (m == -1) continue;
        ev.matched[d][t] = true;
        ev.ignored[d][t] = ev.gt_ignored[m];
        gt_taken[m] = true;
      }
    }
  }
  // Unmatched DTs outside the area range are ignored rather than false positives.
  for (size_t d = 0; d < D; ++d) {
    const bool out_of_range = dts[d].area < range[0] || dts[d].area > range[1];
    for (int t = 0; t < kNumThresholds; ++t) {
      if (!ev.matched[d][t] && out_of_range) ev.ignored[d][t] = true;
    }
  }
  return ev;
}

// accumulate for one category and area range: precision[t][r] and recall[t], or nullopt when
// there is no non-ignored GT (xtcocotools leaves those entries at -1).
struct Curve {
  std::array<std::array<double, kNumRecall>, kNumThresholds> precision;
  std::array<double, kNumThresholds> recall;
};
std::optional<Curve> accumulate(const std::vector<const ImageEval*>& evals) {
  std::vector<double> scores;
  std::vector<const ImageEval*> owner;
  std::vector<size_t> slot;
  size_t npig = 0;
  for (const ImageEval* e : evals) {
    for (size_t d = 0; d < e->scores.size(); ++d) {
      scores.push_back(e->scores[d]);
      owner.push_back(e);
      slot.push_back(d);
    }
    for (bool ig : e->gt_ignored) npig += !ig;
  }
  if (npig == 0) return std::nullopt;
  // Across images, ties keep image order (a stable sort of the concatenation).
  std::vector<size_t> rank(scores.size());
  std::iota(rank.begin(), rank.end(), 0);
  std::stable_sort(rank.begin(), rank.end(), [&](size_t a, size_t b) { return scores[a] > scores[b]; });

  Curve c;
  const size_t nd = rank.size();
  std::vector<double> rc(nd), pr(nd);
  for (int t = 0; t < kNumThresholds; ++t) {
    double tp = 0, fp = 0;
    for (size_t i = 0; i < nd; ++i) {
      const ImageEval& e = *owner[rank[i]];
      const size_t d = slot[rank[i]];
      if (!e.ignored[d][t]) (e.matched[d][t] ? tp : fp) += 1;
      rc[i] = tp / static_cast<double>(npig);
      pr[i] = tp / (fp + tp + kEps);
    }
    c.recall[t] = nd > 0 ? rc[nd - 1] : 0.0;
    for (size_t i = nd; i-- > 1;) pr[i - 1] = std::max(pr[i - 1], pr[i]);
    c.precision[t].fill(0.0);
    for (int r = 0; r < kNumRecall; ++r) {
      const size_t idx = std::lower_bound(rc.begin(), rc.end(), kRecallThresholds[r]) - rc.begin();
      if (idx >= nd) break;  // this and every higher recall point stay 0
      c.precision[t][r] = pr[idx];
    }
  }
  return c;
}

// Mean over the entries that exist; -1 when none do.
struct Mean {
  double sum = 0;
  size_t n = 0;
  void add(double v) {
    if (v > -1) {
      sum += v;
      ++n;
    }
  }
  double value() const { return n ? sum / static_cast<double>(n) : -1.0; }
};

int threshold_index(double t) {
  for (int i = 0; i < kNumThresholds; ++i) {
    if (kOksThresholds[i] == t) return i;
  }
  return -1;
}

}  // namespace

const std::vector<OksPass>& wholebody_passes() {
  static const std::vector<OksPass> passes = [] {
    const auto& meta = pose::coco_wholebody();
    std::vector<OksPass> v;
    v.push_back({"body", 0, 17, ""});
    for (const char* part : {"foot", "face", "lefthand", "righthand"}) {
      const pose::KeypointPart& p = meta.part(part);
      v.push_back({part, p.begin, p.end, part});
    }
    v.push_back({"wholebody", 0, meta.size(), "wholebody"});
    return v;
  }();
  return passes;
}

const OksPass& wholebody_pass(const std::string& name) {
  std::string known;
  for (const OksPass& p : wholebody_passes()) {
    if (p.name == name) return p;
    known += (known.empty() ? "" : ", ") + p.name;
  }
  fail("oks evaluation: unknown part '", name, "' (parts: ", known, ")");
}

OksStats evaluate_oks(const CocoKeypointsFile& gt, const std::vector<KeypointResult>& results, const OksPass& pass) {
  const int gt_points = keypoint_count(gt.format);
  check(pass.end <= gt_points, "oks evaluation: pass '", pass.name, "' needs keypoints [", pass.begin, ", ", pass.end,
        ") but the ground truth ", gt.path, " has ", gt_points);
  for (size_t i = 0; i < results.size(); ++i) {
    check(static_cast<int>(results[i].keypoints.size()) >= 3 * pass.end, "oks evaluation: pass '", pass.name,
          "' needs keypoints [", pass.begin, ", ", pass.end, ") but result #", i, " has ",
          results[i].keypoints.size() / 3);
    check(gt.find_image(results[i].image_id) != nullptr, "oks evaluation: result #", i, " is for image ",
          results[i].image_id, ", which is not in the ground truth ", gt.path);
  }

  const std::vector<double>& all_sigmas = pose::coco_wholebody().sigmas;
  std::vector<double> vars;
  for (int k = pass.begin; k < pass.end; ++k) vars.push_back((2 * all_sigmas[k]) * (2 * all_sigmas[k]));

  std::vector<int64_t> image_ids;
  for (const CocoImage& im : gt.images) image_ids.push_back(im.id);
  std::sort(image_ids.begin(), image_ids.end());
  std::vector<int64_t> cat_ids;
  for (const CocoCategory& c : gt.categories) cat_ids.push_back(c.id);
  std::sort(cat_ids.begin(), cat_ids.end());
  cat_ids.erase(std::unique(cat_ids.begin(), cat_ids.end()), cat_ids.end());

  auto labelled = [&](const std::vector<double>& kp) {
    for (int k = pass.begin; k < pass.end; ++k) {
      if (kp[3 * k + 2] > 0) return true;
    }
    return false;
  };
  using Key = std::pair<int64_t, int64_t>;  // (image, category)
  std::map<Key, std::vector<Gt>> gts;
  for (const PersonAnnotation& a : gt.annotations) {
    gts[{a.image_id, a.category_id}].push_back({&a, a.iscrowd || !labelled(a.keypoints)});
  }
  const std::vector<double> areas = result_areas(results);
  std::map<Key, std::vector<Dt>> dts;
  for (size_t i = 0; i < results.size(); ++i) {
    const KeypointResult& r = results[i];
    if (!labelled(r.keypoints)) continue;  // no keypoint with score > 0: absent from this pass
    double score = r.score;
    if (!pass.score_part.empty()) {
      auto it = r.part_scores.find(pass.score_part);
      if (it != r.part_scores.end()) score = it->second;
    }
    dts[{r.image_id, r.category_id}].push_back({&r, score, areas[i]});
  }

  // evalImgs[category][area][image]; images without GT and DT have none.
  const size_t K = cat_ids.size(), I = image_ids.size();
  std::vector<std::vector<std::vector<std::optional<ImageEval>>>> evals(
      K, std::vector<std::vector<std::optional<ImageEval>>>(kNumAreas, std::vector<std::optional<ImageEval>>(I)));
  const std::vector<Gt> no_gt;
  const std::vector<Dt> no_dt;
  for (size_t k = 0; k < K; ++k) {
    for (size_t i = 0; i < I; ++i) {
      const Key key{image_ids[i], cat_ids[k]};
      auto git = gts.find(key);
      auto dit = dts.find(key);
      const std::vector<Gt>& g = git != gts.end() ? git->second : no_gt;
      std::vector<Dt> d = dit != dts.end() ? dit->second : no_dt;
      if (g.empty() && d.empty()) continue;
      std::stable_sort(d.begin(), d.end(), [](const Dt& a, const Dt& b) { return a.score > b.score; });
      if (d.size() > static_cast<size_t>(kMaxDets)) d.resize(kMaxDets);
      const auto oks = compute_oks(d, g, pass, vars);
      for (int a = 0; a < kNumAreas; ++a) evals[k][a][i] = evaluate_image(d, g, oks, kAreaRanges[a]);
    }
  }

  // Stats: means over categories, thresholds and recall points of the entries that exist.
  const int t50 = threshold_index(0.5), t75 = threshold_index(0.75);
  std::array<Mean, 10> stats;
  for (size_t k = 0; k < K; ++k) {
    for (int a = 0; a < kNumAreas; ++a) {
      std::vector<const ImageEval*> present;
      for (size_t i = 0; i < I; ++i) {
        if (evals[k][a][i]) present.push_back(&*evals[k][a][i]);
      }
      if (present.empty()) continue;
      const std::optional<Curve> c = accumulate(present);
      if (!c) continue;
      for (int t = 0; t < kNumThresholds; ++t) {
        for (int r = 0; r < kNumRecall; ++r) {
          const double p = c->precision[t][r];
          if (a == 0) stats[0].add(p);
          if (a == 0 && t == t50) stats[1].add(p);
          if (a == 0 && t == t75) stats[2].add(p);
          if (a == 1) stats[3].add(p);
          if (a == 2) stats[4].add(p);
        }
        const double rec = c->recall[t];
        if (a == 0) stats[5].add(rec);
        if (a == 0 && t == t50) stats[6].add(rec);
        if (a == 0 && t == t75) stats[7].add(rec);
        if (a == 1) stats[8].add(rec);
        if (a == 2) stats[9].add(rec);
      }
    }
  }
  OksStats out;
  for (int s = 0; s < 10; ++s) out[s] = stats[s].value();
  return out;
}

std::vector<std::pair<std::string, OksStats>> evaluate_wholebody(const CocoKeypointsFile& gt,
                                                                 const std::vector<KeypointResult>& results,
                                                                 const std::vector<std::string>& parts) {
  std::vector<std::pair<std::string, OksStats>> out;
  for (const std::string& part : parts) out.emplace_back(part, evaluate_oks(gt, results, wholebody_pass(part)));
  return out;
}

std::vector<std::string> parse_part_list(const std::string& comma_separated) {
  std::vector<std::string> parts;
  std::stringstream in(comma_separated);
  std::string item;
  while (std::getline(in, item, ',')) {
    wholebody_pass(item);
    check(std::find(parts.begin(), parts.end(), item) == parts.end(), "oks evaluation: part '", item,
          "' is listed twice in '", comma_separated, "'");
    parts.push_back(item);
  }
  check(!parts.empty(), "oks evaluation: empty part list");
  return parts;
}

std::string format_oks_table(const std::vector<std::pair<std::string, OksStats>>& rows) {
  std::ostringstream os;
  char cell[32];
  os << "part      ";
  for (const char* name : kOksStatNames) {
    std::snprintf(cell, sizeof cell, " %6s", name);
    os << cell;
  }
  os << "\n";
  for (const auto& [part, stats] : rows) {
    std::snprintf(cell, sizeof cell, "%-10s", part.c_str());
    os << cell;
    for (double v : stats) {
      std::snprintf(cell, sizeof cell, " %6.3f", v);
      os << cell;
    }
    os << "\n";
  }
  return os.str();
}

std::string oks_stats_json(const std::vector<std::pair<std::string, OksStats>>& rows) {
  // ordered_json keeps the passes and stats in the order a reader expects.
  nlohmann::ordered_json out = nlohmann::ordered_json::object();
  for (const auto& [part, stats] : rows) {
    nlohmann::ordered_json row = nlohmann::ordered_json::object();
    for (size_t s = 0; s < stats.size(); ++s) row[kOksStatNames[s]] = stats[s];
    out[part] = std::move(row);
  }
  return out.dump(2) + "\n";
}

OksStats evaluate_coco_body(const CocoKeypointsFile& gt, const std::vector<KeypointResult>& results) {
  return evaluate_oks(gt, results, wholebody_pass("body"));
}

std::vector<KeypointResult> ground_truth_as_results(const CocoKeypointsFile& gt) {
  std::vector<KeypointResult> out;
  for (const PersonAnnotation& a : gt.annotations) {
    if (a.iscrowd) continue;
    KeypointResult r;
    r.image_id = a.image_id;
    r.category_id = a.category_id;
    r.keypoints = a.keypoints;
    r.score = 1.0;
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace wb::data
