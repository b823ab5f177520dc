#include "nas/evolution.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <unordered_set>

#include "nas/flops.h"
#include "pose/models/config_reader.h"
#include "tensor/error.h"

namespace wb::nas {

namespace {

template <class T>
bool among(const std::vector<T>& choices, T v) {
  return std::find(choices.begin(), choices.end(), v) != choices.end();
}

// Calls op(choices, value, other_value) for every searched dimension of `c` in a fixed order, with
// `o`'s value of the same dimension (the second parent; `c` itself for mutation). Dependent values
// follow: the input width from the height, `width` from branch 0, and a group count the (new) width
// does not admit is re-drawn uniformly among those it does.
template <class Op>
void visit(const HRNetSpace& s, pose::HRNetConfig& c, const pose::HRNetConfig& o, Generator& gen, Op&& op) {
  auto groups = [&](int64_t width, int64_t& g, int64_t og) {
    if (!s.search_groups) return;
    const std::vector<int64_t> choices = group_choices(width);
    op(choices, g, og);
    if (!among(choices, g)) g = choices[static_cast<size_t>(gen.randint(0, static_cast<int64_t>(choices.size())))];
  };
  op(s.input_heights, c.input_size[0], o.input_size[0]);
  c.input_size[1] = s.input_width(c.input_size[0]);
  if (!s.stem_widths.empty()) op(s.stem_widths, c.stem_channels, o.stem_channels);
  op(s.stage1_depths, c.stage1_blocks, o.stage1_blocks);
  op(s.stage1_widths, c.stage1_channels, o.stage1_channels);
  groups(c.stage1_channels, c.stage1_groups, o.stage1_groups);
  for (size_t i = 0; i < 3; ++i) {
    int64_t depth = c.num_modules[i] * s.blocks_per_module;
    op(s.stage_depths[i], depth, o.num_modules[i] * s.blocks_per_module);
    c.num_modules[i] = depth / s.blocks_per_module;
  }
  for (size_t b = 0; b < 4; ++b) {
    op(s.branch_widths[b], c.branch_widths[b], o.branch_widths[b]);
    groups(c.branch_widths[b], c.branch_groups[b], o.branch_groups[b]);
  }
  c.width = c.branch_widths[0];
}

template <class Op>
void visit(const ZoomNasSpace& s, pose::ZoomNetConfig& c, const pose::ZoomNetConfig& o, Generator& gen, Op&& op) {
  visit(s.body, c.body, o.body, gen, op);
  auto head = [&](const HeadSpace& hs, pose::ZoomHeadConfig& h, const pose::ZoomHeadConfig& oh) {
    visit(hs.net, h.net, oh.net, gen, op);
    op(hs.feature_stages, h.feature_stage, oh.feature_stage);
    op(hs.roi_expansions, h.roi_expansion, oh.roi_expansion);
  };
  head(s.face, c.face_head, o.face_head);
  head(s.hand, c.hand_head, o.hand_head);
}

void check_point(const ZoomNasSpace& space, const pose::ZoomNetConfig& c, const char* what) {
  // Sampled configs always carry branch_widths; a config from elsewhere must be a point of the space.
  check(c.body.branch_widths.size() == 4 && c.face_head.net.branch_widths.size() == 4 &&
            c.hand_head.net.branch_widths.size() == 4 && contains(space, c),
        "evolution: the ", what, " is not a point of the search space");
}

// NaN (a failed evaluation) ranks below every number.
double rank_value(double score) { return std::isnan(score) ? -std::numeric_limits<double>::infinity() : score; }

// Indices of the k best candidates, best first; ties by evaluation order (deterministic).
std::vector<size_t> top_k(const std::vector<Candidate>& c, size_t k) {
  std::vector<size_t> idx(c.size());
  std::iota(idx.begin(), idx.end(), size_t{0});
  std::stable_sort(idx.begin(), idx.end(),
                   [&](size_t a, size_t b) { return rank_value(c[a].score) > rank_value(c[b].score); });
  idx.resize(std::min(k, idx.size()));
  return idx;
}

}  // namespace

void EvolutionOptions::validate(const std::string& where) const {
  check(population >= 2, where, ": field \"population\" must be at least 2, got ", population);
  check(parents >= 2 && parents <= population, where, ": field \"parents\" must be 2 to population (", population,
        "), got ", parents);
  check(mutation_share >= 0 && mutation_share <= 1, where, ": field \"mutation_share\" must be 0-1, got ",
        mutation_share);
  check(mutation_prob > 0 && mutation_prob <= 1, where, ": field \"mutation_prob\" must be in (0, 1], got ",
        mutation_prob);
  check(max_tries >= 1, where, ": field \"max_tries\" must be positive, got ", max_tries);
}

EvolutionOptions evolution_options_from_json(const nlohmann::json& j, const std::string& where) {
  EvolutionOptions o;
  pose::ConfigReader r(j, where);
  r.get("population", o.population);
  r.get("parents", o.parents);
  r.get("mutation_share", o.mutation_share);
  r.get("mutation_prob", o.mutation_prob);
  r.get("max_tries", o.max_tries);
  r.finish();
  o.validate(where);
  return o;
}

nlohmann::json to_json(const EvolutionOptions& o) {
  return {{"population", o.population},
          {"parents", o.parents},
          {"mutation_share", o.mutation_share},
          {"mutation_prob", o.mutation_prob},
          {"max_tries", o.max_tries}};
}

std::string config_key(const pose::ZoomNetConfig& c) { return pose::to_json(c).dump(); }

pose::ZoomNetConfig mutate(const ZoomNasSpace& space, const pose::ZoomNetConfig& parent, double prob,
                           Generator& gen) {
  check_point(space, parent, "parent");
  pose::ZoomNetConfig child = parent;
  // Re-drawn among the other choices, so that `prob` is the chance that a dimension changes.
  visit(space, child, parent, gen, [&](const auto& choices, auto& value, const auto&) {
    if (choices.size() < 2 || gen.uniform() >= prob) return;
    auto others = choices;
    others.erase(std::remove(others.begin(), others.end(), value), others.end());
    if (others.empty()) return;
    value = others[static_cast<size_t>(gen.randint(0, static_cast<int64_t>(others.size())))];
  });
  return child;
}

pose::ZoomNetConfig crossover(const ZoomNasSpace& space, const pose::ZoomNetConfig& a, const pose::ZoomNetConfig& b,
                              Generator& gen) {
  check_point(space, a, "first parent");
  check_point(space, b, "second parent");
  pose::ZoomNetConfig child = a;
  visit(space, child, b, gen, [&](const auto&, auto& value, const auto& other) {
    if (gen.randint(0, 2) == 1) value = other;
  });
  return child;
}

std::vector<Candidate> evolution_search(const ZoomNasSpace& space, const pose::ZoomNetConfig& base,
                                        const FlopsBudget& budget, int samples, Generator& gen,
                                        const std::function<double(const pose::ZoomNetConfig&)>& evaluate,
                                        const EvolutionOptions& options) {
  check(samples > 0, "evolution search: --samples must be positive, got ", samples);
  options.validate("evolution search");
  std::vector<Candidate> out;
  std::unordered_set<std::string> seen;
  auto is_new = [&](const pose::ZoomNetConfig& c) { return seen.count(config_key(c)) == 0; };
  auto add = [&](pose::ZoomNetConfig c) {
    seen.insert(config_key(c));
    Candidate cand;
    cand.macs = zoomnet_macs(c).total();
    cand.config = std::move(c);
    cand.score = evaluate(cand.config);
    out.push_back(std::move(cand));
  };
  // A uniform sample under the budget that was not evaluated yet; bounded, as a small space under a
  // tight budget may hold fewer than `samples` networks.
  const int fresh_tries = 100 * options.max_tries;
  auto fresh = [&]() {
    for (int t = 0; t < fresh_tries; ++t) {
      pose::ZoomNetConfig c = sample_under_budget(space, base, budget, gen);
      if (is_new(c)) return c;
    }
    fail("evolution search: ", fresh_tries, " samples under the budget of ", budget.str(),
         " were all evaluated already (the space under the budget holds fewer than ", samples,
         " networks?)");
  };

  const int initial = std::min(samples, options.population);
  for (int i = 0; i < initial; ++i) add(fresh());
  const int mutations = static_cast<int>(std::lround(options.population * options.mutation_share));
  while (static_cast<int>(out.size()) < samples) {
    const std::vector<size_t> parents = top_k(out, static_cast<size_t>(options.parents));
    const auto pick = [&]() { return parents[static_cast<size_t>(gen.randint(0, static_cast<int64_t>(parents.size())))]; };
    for (int j = 0; j < options.population && static_cast<int>(out.size()) < samples; ++j) {
      bool found = false;
      pose::ZoomNetConfig child;
      for (int t = 0; t < options.max_tries && !found; ++t) {
        if (j < mutations) {
          child = mutate(space, out[pick()].config, options.mutation_prob, gen);
        } else {
          const size_t a = pick();
          size_t b = pick();
          while (b == a) b = pick();  // parents holds >= 2 distinct indices once out.size() >= 2
          child = crossover(space, out[a].config, out[b].config, gen);
        }
        found = budget.fits(zoomnet_macs(child).total()) && is_new(child);
      }
      add(found ? std::move(child) : fresh());
    }
  }
  return out;
}

}  // namespace wb::nas
