#include "nas/space.h"

#include <algorithm>

#include "pose/models/config_reader.h"
#include "tensor/error.h"

namespace wb::nas {

namespace {

template <class T>
T pick_one(const std::vector<T>& choices, Pick pick, Generator& gen) {
  if (pick == Pick::Largest) return *std::max_element(choices.begin(), choices.end());
  if (pick == Pick::Smallest) return *std::min_element(choices.begin(), choices.end());
  return choices[static_cast<size_t>(gen.randint(0, static_cast<int64_t>(choices.size())))];
}

// Groups for width C: dense for the largest network, the most groups for the smallest.
int64_t pick_groups(int64_t width, bool search, Pick pick, Generator& gen) {
  if (!search) return 1;
  const std::vector<int64_t> g = group_choices(width);
  if (pick == Pick::Largest) return 1;
  if (pick == Pick::Smallest) return g.front();
  return pick_one(g, Pick::Uniform, gen);
}

template <class T>
bool among(const std::vector<T>& choices, T v) {
  return std::find(choices.begin(), choices.end(), v) != choices.end();
}

void nonempty(const std::string& where, const char* field, size_t n) {
  check(n > 0, where, ": field \"", field, "\" must list at least one choice");
}

void positive_all(const std::string& where, const char* field, const std::vector<int64_t>& v) {
  nonempty(where, field, v.size());
  for (int64_t x : v) check(x > 0, where, ": field \"", field, "\" must hold positive values, got ", x);
}

// A list of N lists of integers (ConfigReader reads flat lists only): marks `key` read.
template <size_t N>
void read_lists(pose::ConfigReader& r, const nlohmann::json& j, const char* key,
                std::array<std::vector<int64_t>, N>& out) {
  if (!j.contains(key)) return;
  r.skip(key);
  const nlohmann::json& v = j.at(key);
  const std::string want = "expected " + std::to_string(N) + " lists of integers";
  if (!v.is_array() || v.size() != N) r.fail_field(key, want);
  for (size_t i = 0; i < N; ++i) {
    if (!v[i].is_array()) r.fail_field(key, want);
    out[i].clear();
    for (const auto& x : v[i]) {
      if (!x.is_number_integer()) r.fail_field(key, want);
      out[i].push_back(x.get<int64_t>());
    }
  }
}

// `stem`: BodyNet (stem widths required) or a head (none allowed).
HRNetSpace hrnet_space_from_json(const HRNetSpace& base, const nlohmann::json& j, const std::string& where,
                                 bool stem) {
  HRNetSpace s = base;
  pose::ConfigReader r(j, where);
  r.get("input_heights", s.input_heights);
  r.get("aspect_w", s.aspect_w);
  r.get("aspect_h", s.aspect_h);
  r.get("stem_widths", s.stem_widths);
  r.get("stage1_depths", s.stage1_depths);
  r.get("stage1_widths", s.stage1_widths);
  read_lists(r, j, "stage_depths", s.stage_depths);
  read_lists(r, j, "branch_widths", s.branch_widths);
  r.get("blocks_per_module", s.blocks_per_module);
  r.get("search_groups", s.search_groups);
  r.finish();
  check(stem != s.stem_widths.empty(), where, ": field \"stem_widths\" must ",
        stem ? "list at least one choice" : "be empty (the heads have no stem)");
  s.validate(where);
  return s;
}

nlohmann::json to_json(const HRNetSpace& s) {
  return {{"input_heights", s.input_heights}, {"aspect_w", s.aspect_w},
          {"aspect_h", s.aspect_h},           {"stem_widths", s.stem_widths},
          {"stage1_depths", s.stage1_depths}, {"stage1_widths", s.stage1_widths},
          {"stage_depths", s.stage_depths},   {"branch_widths", s.branch_widths},
          {"blocks_per_module", s.blocks_per_module}, {"search_groups", s.search_groups}};
}

HeadSpace head_space_from_json(const HeadSpace& base, const nlohmann::json& j, const std::string& where) {
  HeadSpace h = base;
  pose::ConfigReader r(j, where);
  r.get("feature_stages", h.feature_stages);
  if (j.contains("roi_expansions")) {
    r.skip("roi_expansions");
    const nlohmann::json& exp = j.at("roi_expansions");
    if (!exp.is_array()) r.fail_field("roi_expansions", "expected a list of numbers");
    h.roi_expansions.clear();
    for (const auto& e : exp) {
      if (!e.is_number()) r.fail_field("roi_expansions", "expected a list of numbers");
      h.roi_expansions.push_back(e.get<double>());
    }
  }
  nlohmann::json net = nlohmann::json::object();
  for (const auto& [key, value] : j.items()) {
    if (key != "feature_stages" && key != "roi_expansions") net[key] = value;
  }
  h.net = hrnet_space_from_json(base.net, net, where, false);
  return h;
}

}  // namespace

std::vector<int64_t> group_choices(int64_t width) {
  std::vector<int64_t> g;
  for (int64_t d = 1; width % d == 0 && width / d >= 1; d *= 2) g.push_back(width / d);
  if (g.back() != 1) g.push_back(1);
  return g;
}

int64_t HRNetSpace::input_width(int64_t h) const {
  const int64_t multiple = stem_widths.empty() ? 8 : 32;
  const int64_t exact = h * aspect_w;  // W = exact / aspect_h
  // nearest multiple of `multiple` to exact / aspect_h, ties down: floor((exact + (m/2 - 1) * a) / (m * a))
  const int64_t w = (exact + (multiple / 2) * aspect_h - 1) / (multiple * aspect_h) * multiple;
  return std::max(w, multiple);
}

void HRNetSpace::validate(const std::string& where) const {
  positive_all(where, "input_heights", input_heights);
  const int64_t multiple = stem_widths.empty() ? 8 : 32;
  for (int64_t h : input_heights) {
    check(h % multiple == 0, where, ": field \"input_heights\" values must be divisible by ", multiple, ", got ", h);
  }
  check(aspect_w > 0 && aspect_h > 0, where, ": fields \"aspect_w\" and \"aspect_h\" must be positive");
  for (int64_t c : stem_widths) check(c > 0, where, ": field \"stem_widths\" must hold positive values, got ", c);
  positive_all(where, "stage1_depths", stage1_depths);
  positive_all(where, "stage1_widths", stage1_widths);
  check(blocks_per_module > 0, where, ": field \"blocks_per_module\" must be positive, got ", blocks_per_module);
  for (const auto& d : stage_depths) {
    positive_all(where, "stage_depths", d);
    for (int64_t x : d) {
      check(x % blocks_per_module == 0, where, ": field \"stage_depths\" values must be multiples of blocks_per_module (",
            blocks_per_module, "), got ", x);
    }
  }
  for (const auto& w : branch_widths) positive_all(where, "branch_widths", w);
}

void ZoomNasSpace::validate(const std::string& where) const {
  body.validate(where + ": body");
  check(!body.stem_widths.empty(), where, ": field \"body.stem_widths\" must list at least one choice");
  for (const auto* h : {&face, &hand}) {
    const std::string w = where + (h == &face ? ": face_head" : ": hand_head");
    h->net.validate(w);
    check(h->net.stem_widths.empty(), w, ": field \"stem_widths\" must be empty (the heads have no stem)");
    nonempty(w, "feature_stages", h->feature_stages.size());
    for (int64_t s : h->feature_stages) check(s >= 0 && s <= 4, w, ": field \"feature_stages\" values must be 0-4, got ", s);
    nonempty(w, "roi_expansions", h->roi_expansions.size());
    for (double e : h->roi_expansions) check(e > 0, w, ": field \"roi_expansions\" values must be positive, got ", e);
  }
}

ZoomNasSpace zoomnas_space() {
  ZoomNasSpace s;
  HRNetSpace& b = s.body;
  b.input_heights = {256, 288, 320, 352, 384};
  b.stem_widths = {16, 32, 48, 64};
  b.stage1_depths = {2, 3, 4};
  b.stage1_widths = {16, 32, 48, 64};
  b.stage_depths = {std::vector<int64_t>{4}, {8, 12, 16}, {8, 12}};
  b.branch_widths = {std::vector<int64_t>{8, 16, 24, 32}, {16, 32, 48, 64}, {32, 64, 96, 128}, {64, 128, 192, 256}};
  HRNetSpace head = b;
  head.input_heights = {32, 48, 64, 80, 96};
  head.aspect_w = head.aspect_h = 1;
  head.stem_widths.clear();
  s.face.net = s.hand.net = head;
  s.face.feature_stages = s.hand.feature_stages = {0, 1, 2, 3, 4};
  s.face.roi_expansions = s.hand.roi_expansions = {1.0, 1.1, 1.2, 1.3};
  return s;
}

ZoomNasSpace zoomnas_space_from_json(const nlohmann::json& j, const std::string& where) {
  ZoomNasSpace s = zoomnas_space();
  pose::ConfigReader r(j, where);
  nlohmann::json body = nlohmann::json::object(), face = body, hand = body;
  r.get("body", body);
  r.get("face_head", face);
  r.get("hand_head", hand);
  r.finish();
  s.body = hrnet_space_from_json(s.body, body, where + ": body", true);
  s.face = head_space_from_json(s.face, face, where + ": face_head");
  s.hand = head_space_from_json(s.hand, hand, where + ": hand_head");
  s.validate(where);
  return s;
}

nlohmann::json to_json(const ZoomNasSpace& s) {
  auto head = [](const HeadSpace& h) {
    nlohmann::json j = to_json(h.net);
    j["feature_stages"] = h.feature_stages;
    j["roi_expansions"] = h.roi_expansions;
    return j;
  };
  return {{"body", to_json(s.body)}, {"face_head", head(s.face)}, {"hand_head", head(s.hand)}};
}

pose::HRNetConfig sample_hrnet(const HRNetSpace& s, const pose::HRNetConfig& base, Pick pick, Generator& gen) {
  pose::HRNetConfig c = base;
  const int64_t h = pick_one(s.input_heights, pick, gen);
  c.input_size = {h, s.input_width(h)};
  if (!s.stem_widths.empty()) c.stem_channels = pick_one(s.stem_widths, pick, gen);
  c.stage1_blocks = pick_one(s.stage1_depths, pick, gen);
  c.stage1_channels = pick_one(s.stage1_widths, pick, gen);
  c.stage1_groups = pick_groups(c.stage1_channels, s.search_groups, pick, gen);
  for (size_t i = 0; i < 3; ++i) {
    c.num_modules[i] = pick_one(s.stage_depths[i], pick, gen) / s.blocks_per_module;
    c.num_blocks[i] = s.blocks_per_module;
  }
  c.branch_widths.assign(4, 0);
  for (size_t b = 0; b < 4; ++b) {
    c.branch_widths[b] = pick_one(s.branch_widths[b], pick, gen);
    c.branch_groups[b] = pick_groups(c.branch_widths[b], s.search_groups, pick, gen);
  }
  c.width = c.branch_widths[0];
  return c;
}

pose::ZoomNetConfig sample_zoomnet(const ZoomNasSpace& s, const pose::ZoomNetConfig& base, Pick pick,
                                   Generator& gen) {
  pose::ZoomNetConfig c = base;
  c.body = sample_hrnet(s.body, base.body, pick, gen);
  auto head = [&](const HeadSpace& hs, pose::ZoomHeadConfig& h) {
    h.net = sample_hrnet(hs.net, h.net, pick, gen);
    h.feature_stage = pick_one(hs.feature_stages, pick, gen);
    h.roi_expansion = pick_one(hs.roi_expansions, pick, gen);
  };
  head(s.face, c.face_head);
  head(s.hand, c.hand_head);
  return c;
}

bool contains(const HRNetSpace& s, const pose::HRNetConfig& c) {
  if (!among(s.input_heights, c.input_size[0]) || c.input_size[1] != s.input_width(c.input_size[0])) return false;
  if (!s.stem_widths.empty() && !among(s.stem_widths, c.stem_channels)) return false;
  if (!among(s.stage1_depths, c.stage1_blocks) || !among(s.stage1_widths, c.stage1_channels)) return false;
  auto groups_ok = [&](int64_t width, int64_t g) { return s.search_groups ? among(group_choices(width), g) : g == 1; };
  if (!groups_ok(c.stage1_channels, c.stage1_groups)) return false;
  for (size_t i = 0; i < 3; ++i) {
    if (c.num_blocks[i] != s.blocks_per_module ||
        !among(s.stage_depths[i], c.num_modules[i] * s.blocks_per_module)) {
      return false;
    }
  }
  for (int b = 0; b < 4; ++b) {
    if (!among(s.branch_widths[b], c.branch_width(b)) || !groups_ok(c.branch_width(b), c.branch_groups[b])) {
      return false;
    }
  }
  return true;
}

bool contains(const ZoomNasSpace& s, const pose::ZoomNetConfig& c) {
  auto head = [](const HeadSpace& hs, const pose::ZoomHeadConfig& h) {
    return contains(hs.net, h.net) && among(hs.feature_stages, h.feature_stage) &&
           among(hs.roi_expansions, h.roi_expansion);
  };
  return contains(s.body, c.body) && head(s.face, c.face_head) && head(s.hand, c.hand_head);
}

}  // namespace wb::nas
