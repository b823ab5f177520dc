// The NAS controllers (nas/evolution.h, nas/controller.h) and the search driver
// (tasks/search_run.h) on a synthetic, deterministic evaluation function of the config: the
// evolutionary controller never evaluates an over-budget or already evaluated network and is
// deterministic by seed; both controllers resume to the byte-identical state; the output files
// parse and best_config.json builds a ZoomNet whose counted FLOPs are the candidate's; a state file
// that does not match is an error naming it. How evolution compares with random search on the
// synthetic objective is printed, not asserted.
#include <atomic>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <set>
#include <sstream>
#include <string>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "datasets/image.h"
#include "nas/controller.h"
#include "nas/evolution.h"
#include "nas/flops.h"
#include "nn/flops.h"
#include "pose/models/zoomnet.h"
#include "tasks/search_report.h"
#include "tasks/search_run.h"
#include "tensor/atomic_file.h"
#include "tensor/error.h"
#include "tests/temp_dir.h"
#include "tests/nas_test_space.h"
#include "tests/util.h"

using namespace wb;
namespace fs = std::filesystem;
using nlohmann::json;

using wb::test::TempDir;

using wb::test::table2_divided_by_8;

namespace {

// FNV-1a: a hash that is the same on every platform and run.
uint64_t fnv1a(const std::string& s) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char ch : s) h = (h ^ ch) * 1099511628211ull;
  return h;
}

// A stand-in for "export, recalibrate, validate" in [0, 1]: every searched dimension helps with
// diminishing returns (square roots of the value over its maximum), with its own weight, grouped
// convs cost a little, the heads prefer feature stage 1 and expansion 1.2; plus noise of +-0.01
// from a hash of the config.
double net_score(const pose::HRNetConfig& n, double max_h) {
  auto r = [](double v, double max) { return std::sqrt(v / max); };
  double s = 0.30 * r(static_cast<double>(n.input_size[0]), max_h) + 0.05 * r(n.stage1_blocks, 4) +
             0.05 * r(n.stage1_channels, 64) + 0.10 * r(n.num_modules[1], 4) + 0.05 * r(n.num_modules[2], 3);
  if (n.stem) s += 0.05 * r(n.stem_channels, 64);
  const double max_w[4] = {32, 64, 128, 256}, weight[4] = {0.15, 0.10, 0.08, 0.07};
  for (int b = 0; b < 4; ++b) {
    s += weight[b] * r(n.branch_width(b), max_w[b]);
    s -= 0.01 * std::log2(static_cast<double>(n.branch_groups[b]));
  }
  return s;
}

tasks::EvalRows synthetic_eval(const pose::ZoomNetConfig& c) {
  const double noise = 0.01 * (static_cast<double>(fnv1a(nas::config_key(c)) >> 11) / 9007199254740992.0 * 2 - 1);
  auto head = [&](const pose::ZoomHeadConfig& h) {
    return 0.8 * net_score(h.net, 96) - 0.03 * std::abs(h.feature_stage - 1.0) - 0.5 * std::abs(h.roi_expansion - 1.2);
  };
  const double body = net_score(c.body, 384), face = head(c.face_head), hand = head(c.hand_head);
  const double whole = 0.5 * body + 0.25 * face + 0.25 * hand + noise;
  auto stats = [](double ap) {
    data::OksStats s{};
    for (size_t i = 0; i < s.size(); ++i) s[i] = ap + 0.01 * static_cast<double>(i);
    return s;
  };
  return {{"body", stats(body)},     {"foot", stats(0.9 * body)},  {"face", stats(face)},
          {"lefthand", stats(hand)}, {"righthand", stats(hand)}, {"wholebody", stats(whole)}};
}

double synthetic_score(const pose::ZoomNetConfig& c) { return tasks::ranking_ap(synthetic_eval(c)).second; }

// 63% of the paper's ZoomNet, the search point.
int64_t zoomnas_budget() {
  return static_cast<int64_t>(0.63 * static_cast<double>(nas::zoomnet_macs(pose::ZoomNetConfig{}).total()));
}

tasks::SearchOptions options(const std::string& dir, const std::string& controller, double budget_gflops, int samples) {
  tasks::SearchOptions o;
  o.out_dir = dir;
  o.controller = controller;
  o.budget_gflops = budget_gflops;
  o.samples = samples;
  o.seed = 5;
  o.verbose = false;
  o.evolution.population = 8;
  o.evolution.parents = 3;
  return o;
}

const char* kFiles[] = {"state.json", "results.md", "results.csv", "best_config.json", "pareto.png"};

}  // namespace

TEST_CASE("nas evolution: under budget, never twice, in the space, deterministic by seed") {
  const nas::ZoomNasSpace s = nas::zoomnas_space();
  const pose::ZoomNetConfig base;
  const int64_t budget = zoomnas_budget();
  nas::EvolutionOptions eo;
  eo.population = 20;
  eo.parents = 5;
  int calls = 0;
  auto score = [&](const pose::ZoomNetConfig& c) {
    ++calls;
    return synthetic_score(c);
  };
  Generator g1(7), g2(7), g3(8);
  const auto a = nas::evolution_search(s, base, {budget}, 120, g1, score, eo);
  CHECK(calls == 120);
  const auto b = nas::evolution_search(s, base, {budget}, 120, g2, score, eo);
  const auto c = nas::evolution_search(s, base, {budget}, 120, g3, score, eo);
  REQUIRE(a.size() == 120);
  std::set<std::string> keys;
  bool same_b = true, same_c = true;
  for (size_t i = 0; i < a.size(); ++i) {
    CHECK(a[i].macs <= budget);
    CHECK(a[i].macs == nas::zoomnet_macs(a[i].config).total());
    CHECK(nas::contains(s, a[i].config));
    CHECK(a[i].score == synthetic_score(a[i].config));
    keys.insert(nas::config_key(a[i].config));
    same_b = same_b && nas::config_key(a[i].config) == nas::config_key(b[i].config);
    same_c = same_c && nas::config_key(a[i].config) == nas::config_key(c[i].config);
  }
  CHECK(keys.size() == a.size());
  CHECK(same_b);
  CHECK_FALSE(same_c);
  // With a floor, every child and every fresh sample stays in the band.
  const nas::FlopsBudget band{budget, budget * 4 / 5};
  Generator g5(9);
  for (const auto& x : nas::evolution_search(s, base, band, 60, g5, synthetic_score, eo)) CHECK(band.fits(x.macs));
  // A budget the space cannot meet, and options out of range, are errors.
  Generator g4(0);
  const int64_t smallest = nas::zoomnet_macs(nas::sample_zoomnet(s, base, nas::Pick::Smallest, g4)).total();
  eo.max_tries = 2;
  CHECK_THROWS_WITH_AS(nas::evolution_search(s, base, {smallest / 2}, 10, g4, score, eo), doctest::Contains("budget"), Error);
  eo.parents = 1;
  CHECK_THROWS_WITH_AS(nas::evolution_search(s, base, {budget}, 10, g4, score, eo), doctest::Contains("parents"), Error);
}

TEST_CASE("nas evolution: a space of 80 networks is searched without repeats, and exhausting it is an error") {
  // One choice per dimension except BodyNet's input (5) and stem (4) and the face RoI expansion (4):
  // breeding repeats parents often here, so duplicates must be caught.
  nas::ZoomNasSpace s = nas::zoomnas_space();
  for (nas::HRNetSpace* n : {&s.body, &s.face.net, &s.hand.net}) {
    n->search_groups = false;
    if (n != &s.body) n->input_heights.resize(1);
    n->stage1_depths.resize(1);
    n->stage1_widths.resize(1);
    for (auto& d : n->stage_depths) d.resize(1);
    for (auto& w : n->branch_widths) w.resize(1);
  }
  s.face.feature_stages.resize(1);
  s.hand.feature_stages.resize(1);
  s.hand.roi_expansions.resize(1);
  const int64_t budget = std::numeric_limits<int64_t>::max();
  nas::EvolutionOptions eo;
  eo.population = 10;
  eo.parents = 4;
  Generator gen(3);
  const auto all = nas::evolution_search(s, {}, {budget}, 80, gen, synthetic_score, eo);
  std::set<std::string> keys;
  for (const auto& c : all) keys.insert(nas::config_key(c.config));
  CHECK(keys.size() == 80);
  eo.max_tries = 5;
  CHECK_THROWS_WITH_AS(nas::evolution_search(s, {}, {budget}, 81, gen, synthetic_score, eo),
                       doctest::Contains("were all evaluated already"), Error);
}

TEST_CASE("nas evolution: options from JSON, defaults, errors naming the field") {
  const nas::EvolutionOptions d = nas::evolution_options_from_json(json::object(), "search.json: evolution");
  CHECK(nas::to_json(d) == nas::to_json(nas::EvolutionOptions{}));
  const nas::EvolutionOptions o =
      nas::evolution_options_from_json({{"population", 30}, {"mutation_prob", 0.2}}, "search.json: evolution");
  CHECK(o.population == 30);
  CHECK(o.mutation_prob == 0.2);
  CHECK(nas::to_json(nas::evolution_options_from_json(nas::to_json(o), "x")) == nas::to_json(o));
  const std::string unknown =
      test::error_of([] { nas::evolution_options_from_json({{"populaton", 30}}, "search.json: evolution"); });
  CHECK(unknown.find("search.json: evolution") != std::string::npos);
  CHECK(unknown.find("populaton") != std::string::npos);
  CHECK(test::error_of([] { nas::evolution_options_from_json({{"parents", 60}}, "search.json: evolution"); })
            .find("field \"parents\" must be 2 to population (50)") != std::string::npos);
  CHECK(test::error_of([] { nas::evolution_options_from_json({{"mutation_share", 1.5}}, "e"); }).find("mutation_share") !=
        std::string::npos);
}

TEST_CASE("nas evolution: mutation and crossover stay in the space and draw from the parents") {
  const nas::ZoomNasSpace s = nas::zoomnas_space();
  Generator gen(11);
  for (int i = 0; i < 30; ++i) {
    const pose::ZoomNetConfig a = nas::sample_zoomnet(s, {}, nas::Pick::Uniform, gen);
    const pose::ZoomNetConfig b = nas::sample_zoomnet(s, {}, nas::Pick::Uniform, gen);
    const pose::ZoomNetConfig m = nas::mutate(s, a, 1.0, gen);
    CHECK(nas::contains(s, m));
    // With probability 1 every dimension with a choice changes (groups may be re-drawn to the same).
    CHECK(m.body.input_size[0] != a.body.input_size[0]);
    CHECK(m.body.stem_channels != a.body.stem_channels);
    CHECK(m.face_head.roi_expansion != a.face_head.roi_expansion);
    CHECK(m.body.num_modules[0] == a.body.num_modules[0]);  // stage 2 has one choice
    CHECK(nas::config_key(nas::mutate(s, a, 1e-9, gen)) == nas::config_key(a));

    const pose::ZoomNetConfig x = nas::crossover(s, a, b, gen);
    CHECK(nas::contains(s, x));
    auto from_either = [](auto v, auto va, auto vb) { return v == va || v == vb; };
    CHECK(from_either(x.body.input_size[0], a.body.input_size[0], b.body.input_size[0]));
    CHECK(from_either(x.body.stem_channels, a.body.stem_channels, b.body.stem_channels));
    CHECK(from_either(x.body.stage1_blocks, a.body.stage1_blocks, b.body.stage1_blocks));
    for (int k = 0; k < 3; ++k) CHECK(from_either(x.body.num_modules[k], a.body.num_modules[k], b.body.num_modules[k]));
    for (int k = 0; k < 4; ++k) CHECK(from_either(x.hand_head.net.branch_width(k), a.hand_head.net.branch_width(k), b.hand_head.net.branch_width(k)));
    CHECK(from_either(x.face_head.feature_stage, a.face_head.feature_stage, b.face_head.feature_stage));
    CHECK(from_either(x.hand_head.roi_expansion, a.hand_head.roi_expansion, b.hand_head.roi_expansion));
  }
  CHECK_THROWS_WITH_AS(nas::mutate(s, pose::ZoomNetConfig{}, 0.5, gen), doctest::Contains("not a point"), Error);
}

TEST_CASE("search run: random and evolution each resume to the identical state") {
  const nas::ZoomNasSpace s = nas::zoomnas_space();
  const double budget = nas::to_gflops(zoomnas_budget());
  TempDir tmp("nas-search-resume");
  for (const std::string controller : {"random", "evolution"}) {
    CAPTURE(controller);
    const std::string full = tmp.file(controller + "-full"), cut = tmp.file(controller + "-cut");
    const auto done = tasks::run_search(options(full, controller, budget, 30), s, {}, synthetic_eval);
    CHECK(done.evaluated == 30);
    CHECK_FALSE(done.stopped);
    REQUIRE(done.candidates.size() == 30);

    // Stopped after 11 evaluations: random search by an evaluation that throws (as a killed run
    // would leave it), evolution by the stop flag ...
    int evaluations = 0;
    std::atomic<bool> stop{false};
    auto stopping = [&](const pose::ZoomNetConfig& c) {
      if (evaluations == 11) throw std::runtime_error("killed");
      if (++evaluations == 11) stop = true;
      return synthetic_eval(c);
    };
    tasks::SearchOptions first = options(cut, controller, budget, 30);
    if (controller == "random") {
      CHECK_THROWS_AS(tasks::run_search(first, s, {}, stopping), std::runtime_error);
    } else {
      first.stop = &stop;
      const auto part = tasks::run_search(first, s, {}, stopping);
      CHECK(part.stopped);
      CHECK(part.candidates.size() == 11);
    }
    CHECK(json::parse(read_file(cut + "/state.json"))["candidates"].size() == 11);
    // ... resumed: the 11 are replayed, 19 evaluated, and every file equals the uninterrupted run's.
    tasks::SearchOptions o = options(cut, controller, budget, 30);
    o.resume = true;
    int fresh = 0;
    const auto resumed = tasks::run_search(o, s, {}, [&](const pose::ZoomNetConfig& c) {
      ++fresh;
      return synthetic_eval(c);
    });
    CHECK(fresh == 19);
    CHECK(resumed.evaluated == 19);
    CHECK(resumed.best == done.best);
    for (const char* f : kFiles) {
      CAPTURE(f);
      CHECK(read_file(cut + "/" + f) == read_file(full + "/" + f));
    }
    // Resuming a finished search evaluates nothing and changes nothing.
    const std::string before = read_file(cut + "/state.json");
    CHECK(tasks::run_search(o, s, {}, synthetic_eval).evaluated == 0);
    CHECK(read_file(cut + "/state.json") == before);
  }
}

TEST_CASE("search run: the files parse, best_config.json builds a ZoomNet with the candidate's FLOPs") {
  const nas::ZoomNasSpace s = table2_divided_by_8();
  Generator g(0);
  const int64_t lo = nas::zoomnet_macs(nas::sample_zoomnet(s, {}, nas::Pick::Smallest, g)).total();
  const int64_t hi = nas::zoomnet_macs(nas::sample_zoomnet(s, {}, nas::Pick::Largest, g)).total();
  const double budget = nas::to_gflops(lo + (hi - lo) / 3);
  TempDir tmp("nas-search-files");
  const std::string dir = tmp.file("evo");
  const auto r = tasks::run_search(options(dir, "evolution", budget, 20), s, {}, synthetic_eval);
  REQUIRE(r.candidates.size() == 20);
  const tasks::SearchCandidate& best = r.candidates[r.best];
  for (const auto& c : r.candidates) CHECK(c.ap <= best.ap);

  const json st = json::parse(read_file(dir + "/state.json"));
  CHECK(st["search"]["controller"] == "evolution");
  CHECK(st["search"]["seed"] == 5);
  REQUIRE(st["candidates"].size() == 20);
  const json& c0 = st["candidates"][0];
  CHECK(c0["gflops"]["total"].get<double>() == nas::to_gflops(r.candidates[0].macs.total()));
  CHECK(c0["parts"].size() == 6);
  CHECK(c0["parts"][5]["part"] == "wholebody");
  CHECK(c0["parts"][5]["AP"].get<double>() == r.candidates[0].ap);

  // results.csv: a header and one row per candidate, every row as wide as the header, one best.
  std::istringstream csv(read_file(dir + "/results.csv"));
  std::string line;
  std::getline(csv, line);
  CHECK(line == "index,config,gflops_body,gflops_face,gflops_hand,gflops_total,ap_body,ap_foot,ap_face,ap_lefthand,"
                "ap_righthand,ap_wholebody,best");
  int rows = 0, marked = 0;
  while (std::getline(csv, line)) {
    ++rows;
    CHECK(std::count(line.begin(), line.end(), ',') == 12);
    CHECK(line.rfind(std::to_string(rows) + ",B ", 0) == 0);
    if (line.substr(line.size() - 2) == ",1") {
      ++marked;
      CHECK(rows == static_cast<int>(r.best) + 1);
    }
  }
  CHECK(rows == 20);
  CHECK(marked == 1);
  CHECK(tasks::config_summary(best.config).find('|') == std::string::npos);  // a markdown table cell
  const std::string md = read_file(dir + "/results.md");
  CHECK(md.find("**best**") != std::string::npos);
  CHECK(md.find("| " + std::to_string(r.best + 1) + " | `" + tasks::config_summary(best.config) + "`") != std::string::npos);
  const data::Image png = data::read_image(dir + "/pareto.png");
  CHECK(png.width == 760);
  CHECK(png.height == 520);

  // best_config.json is a ZoomNet model config; its counted FLOPs are the candidate's.
  const auto model = pose::build_zoomnet_from_file(dir + "/best_config.json");
  CHECK(pose::to_json(model->config()) == pose::to_json(best.config));
  const nn::FlopsReport f =
      nn::count_flops(*model, {1, 3, best.config.body.input_size[0], best.config.body.input_size[1]});
  CHECK(f.macs() == best.macs.total());
  CHECK(f.at("body").macs == best.macs.body);

  // The Pareto front: no candidate is cheaper-or-equal and better than a front member.
  const std::vector<size_t> front = tasks::pareto_front(r.candidates);
  REQUIRE(!front.empty());
  CHECK(front.back() == r.best);
  for (size_t i : front) {
    for (const auto& c : r.candidates) CHECK_FALSE((c.macs.total() <= r.candidates[i].macs.total() && c.ap > r.candidates[i].ap));
  }
}

TEST_CASE("search run: a state that does not match is an error naming the file") {
  const nas::ZoomNasSpace s = nas::zoomnas_space();
  const double budget = nas::to_gflops(zoomnas_budget());
  TempDir tmp("nas-search-errors");
  const std::string dir = tmp.file("run");
  tasks::SearchOptions o = options(dir, "evolution", budget, 12);
  auto error = [&](const tasks::SearchOptions& opt) {
    return test::error_of([&] { tasks::run_search(opt, s, {}, synthetic_eval); });
  };
  o.resume = true;
  CHECK(error(o).find("state.json: no search state") != std::string::npos);
  o.resume = false;
  tasks::run_search(o, s, {}, synthetic_eval);
  CHECK(error(o).find("state.json: a search is stored here already") != std::string::npos);

  o.resume = true;
  tasks::SearchOptions other = o;
  other.seed = 6;
  CHECK(error(other).find("state.json: field \"search.seed\" is 5 in the stored search but 6") != std::string::npos);
  other = o;
  other.controller = "random";
  CHECK(error(other).find("state.json: field \"search.controller\"") != std::string::npos);
  other = o;
  other.evolution.mutation_prob = 0.2;
  CHECK(error(other).find("state.json: field \"search.evolution\"") != std::string::npos);
  other = o;
  other.min_gflops = budget / 2;  // a floor is part of what defines a search
  CHECK(error(other).find("state.json: field \"search.min_gflops\"") != std::string::npos);
  nas::ZoomNasSpace narrower = s;
  narrower.body.input_heights = {256, 288};
  CHECK(test::error_of([&] { tasks::run_search(o, narrower, {}, synthetic_eval); }).find("state.json: field \"space\"") !=
        std::string::npos);

  // A stored config the replay does not propose (another valid point of the space).
  json st = json::parse(read_file(dir + "/state.json"));
  json& cfg = st["candidates"][3]["config"]["hand_head"]["roi_expansion"];
  cfg = cfg.get<double>() == 1.0 ? 1.1 : 1.0;
  write_file_atomic(dir + "/state.json", st.dump(1));
  CHECK(error(o).find("state.json: candidates[3] is not the architecture") != std::string::npos);
  write_file_atomic(dir + "/state.json", "{\"search\": 1");
  CHECK(error(o).find("state.json: not valid JSON") != std::string::npos);

  other = o;
  other.controller = "annealing";
  CHECK(error(other).find("unknown controller \"annealing\"") != std::string::npos);
  other.controller = "random";
  other.budget_gflops = 0;
  CHECK(error(other).find("--budget") != std::string::npos);
  other.budget_gflops = budget;
  other.min_gflops = budget * 1.5;
  CHECK(error(other).find("--min-budget must lie between 0 and --budget") != std::string::npos);
}

TEST_CASE("search run: a floor keeps every candidate in the band and is stored in state.json") {
  const nas::ZoomNasSpace s = nas::zoomnas_space();
  const double budget = nas::to_gflops(zoomnas_budget());
  TempDir tmp("nas-search-floor");
  tasks::SearchOptions o = options(tmp.file("run"), "random", budget, 10);
  o.min_gflops = budget * 0.8;
  const auto r = tasks::run_search(o, s, {}, synthetic_eval);
  REQUIRE(r.candidates.size() == 10);
  for (const auto& c : r.candidates) {
    CHECK(nas::to_gflops(c.macs.total()) >= o.min_gflops * (1 - 1e-9));
    CHECK(nas::to_gflops(c.macs.total()) <= budget);
  }
  CHECK(json::parse(read_file(o.out_dir + "/state.json"))["search"]["min_gflops"].get<double>() == o.min_gflops);
  // Resuming it without the floor would propose other networks: refused, naming the field.
  tasks::SearchOptions plain = o;
  plain.min_gflops = 0;
  plain.resume = true;
  CHECK(test::error_of([&] { tasks::run_search(plain, s, {}, synthetic_eval); })
            .find("field \"search.min_gflops\" is ") != std::string::npos);
}

TEST_CASE("nas controllers: evolution against random search on the synthetic objective (reported, not asserted)") {
  const nas::ZoomNasSpace s = nas::zoomnas_space();
  nas::ControllerSpec spec;
  spec.budget.max_macs = zoomnas_budget();
  spec.samples = 150;
  spec.evolution.population = 25;
  spec.evolution.parents = 8;
  double sum[2] = {0, 0};
  const int seeds = 4;
  for (uint64_t seed = 0; seed < seeds; ++seed) {
    spec.seed = seed;
    for (int k = 0; k < 2; ++k) {
      spec.kind = k == 0 ? nas::ControllerKind::Random : nas::ControllerKind::Evolution;
      const auto c = nas::run_controller(spec, s, {}, synthetic_score);
      REQUIRE(c.size() == 150);
      sum[k] += c[nas::best_candidate(c)].score;
    }
  }
  char line[200];
  std::snprintf(line, sizeof line,
                "synthetic objective, %d samples at 63%% of ZoomNet's FLOPs, mean best over %d seeds: random %.4f, "
                "evolution %.4f",
                spec.samples, seeds, sum[0] / seeds, sum[1] / seeds);
  MESSAGE(line);
}
