#include "tasks/search_run.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <sstream>
#include <tuple>

#include "datasets/oks_eval.h"
#include "pose/models/factory.h"
#include "tasks/progress.h"
#include "tasks/search_report.h"
#include "tensor/atomic_file.h"
#include "tensor/error.h"

namespace wb::tasks {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// What defines a search: a stored state must match all of it to be resumed.
json search_header(const SearchOptions& o, nas::ControllerKind kind) {
  json h = {{"controller", nas::controller_name(kind)},
            {"budget_gflops", o.budget_gflops},
            {"samples", o.samples},
            {"seed", o.seed}};
  if (o.min_gflops > 0) h["min_gflops"] = o.min_gflops;  // absent when 0: plain searches' states stay as before
  if (kind == nas::ControllerKind::Evolution) h["evolution"] = nas::to_json(o.evolution);
  return h;
}

json gflops_json(const nas::ZoomNetMacs& m) {
  return {{"body", nas::to_gflops(m.body)},
          {"face", nas::to_gflops(m.face)},
          {"hand", nas::to_gflops(m.hand)},
          {"total", nas::to_gflops(m.total())}};
}

// The part table as a list (its order is the evaluation's): [{"part": "body", "AP": ..., ...}, ...].
json rows_json(const EvalRows& rows) {
  json out = json::array();
  for (const auto& [part, stats] : rows) {
    json r = {{"part", part}};
    for (size_t i = 0; i < stats.size(); ++i) r[data::kOksStatNames[i]] = stats[i];
    out.push_back(r);
  }
  return out;
}

EvalRows rows_from_json(const json& j, const std::string& where) {
  check(j.is_array() && !j.empty(), where, ": field \"parts\" must be a non-empty list");
  EvalRows rows;
  for (const auto& r : j) {
    check(r.is_object() && r.contains("part") && r["part"].is_string(), where,
          ": field \"parts\" entries need a \"part\" name");
    data::OksStats stats{};
    for (size_t i = 0; i < stats.size(); ++i) {
      const char* name = data::kOksStatNames[i];
      check(r.contains(name) && r[name].is_number(), where, ": field \"parts\" entry \"", r["part"].get<std::string>(),
            "\" lacks the number \"", name, "\"");
      stats[i] = r[name].get<double>();
    }
    rows.emplace_back(r["part"].get<std::string>(), stats);
  }
  return rows;
}

SearchCandidate make_candidate(pose::ZoomNetConfig config, EvalRows rows) {
  SearchCandidate c;
  c.macs = nas::zoomnet_macs(config);
  c.config = std::move(config);
  c.rows = std::move(rows);
  std::tie(c.metric, c.ap) = ranking_ap(c.rows);
  return c;
}

json candidate_json(const SearchCandidate& c) {
  return {{"config", pose::to_json(c.config)},
          {"gflops", gflops_json(c.macs)},
          {"parts", rows_json(c.rows)},
          {"metric", c.metric},
          {"ap", c.ap}};
}

// The stored search in `path`: checks that it is this search (header, space, base) and reads its
// candidates. Errors name the file and the field.
std::vector<SearchCandidate> read_state(const std::string& path, const json& header, const json& space,
                                        const json& base) {
  check(fs::exists(path), path, ": no search state to resume (run without --resume to start one)");
  json st;
  try {
    st = json::parse(read_file(path));
  } catch (const json::exception& e) {
    fail(path, ": not valid JSON (", e.what(), ")");
  }
  check(st.is_object() && st.contains("search") && st["search"].is_object() && st.contains("space") &&
            st.contains("base") && st.contains("candidates") && st["candidates"].is_array(),
        path, ": not a search state (expected \"search\", \"space\", \"base\", \"candidates\")");
  for (const auto& [key, value] : header.items()) {
    check(st["search"].contains(key) && st["search"][key] == value, path, ": field \"search.", key, "\" is ",
          st["search"].value(key, json()).dump(), " in the stored search but ", value.dump(),
          " in this one: resume with the same options, or start a new search in another folder");
  }
  for (const auto& [key, value] : st["search"].items()) {
    check(header.contains(key), path, ": field \"search.", key, "\" is ", value.dump(),
          " in the stored search but not set in this one: resume with the same options, or start a new search in "
          "another folder");
  }
  check(st["space"] == space, path, ": field \"space\": the stored search space differs from this one");
  check(st["base"] == base, path, ": field \"base\": the stored base ZoomNet config differs from this one");
  std::vector<SearchCandidate> out;
  const json& cands = st["candidates"];
  for (size_t i = 0; i < cands.size(); ++i) {
    const std::string where = path + ": candidates[" + std::to_string(i) + "]";
    check(cands[i].is_object() && cands[i].contains("config") && cands[i].contains("parts"), where,
          ": expected \"config\" and \"parts\"");
    out.push_back(make_candidate(pose::zoomnet_config_from_json(cands[i]["config"], where + ": config"),
                                 rows_from_json(cands[i]["parts"], where)));
  }
  return out;
}

// Thrown through the controller when SearchOptions::stop is set.
struct Stopped {};

size_t best_of(const std::vector<SearchCandidate>& c) {
  size_t best = 0;
  for (size_t i = 1; i < c.size(); ++i) {
    if (c[i].ap > c[best].ap) best = i;
  }
  return best;
}

std::string hrnet_summary(const pose::HRNetConfig& n) {
  std::ostringstream s;
  s << n.input_size[0];
  if (n.stem) s << "x" << n.input_size[1] << " c" << n.stem_channels;
  s << " L" << n.stage1_blocks << "x" << n.stage1_channels << "g" << n.stage1_groups << " D";
  for (int i = 0; i < 3; ++i) s << (i ? "." : "") << n.num_modules[i] * n.num_blocks[i];
  s << " W";
  for (int b = 0; b < 4; ++b) s << (b ? "." : "") << n.branch_width(b);
  s << " G";
  for (int b = 0; b < 4; ++b) s << (b ? "." : "") << n.branch_groups[b];
  return s.str();
}

}  // namespace

std::string config_summary(const pose::ZoomNetConfig& c) {
  auto head = [](const char* tag, const pose::ZoomHeadConfig& h) {
    std::ostringstream s;
    s << "; " << tag << " " << hrnet_summary(h.net) << " s" << h.feature_stage << " e" << h.roi_expansion;
    return s.str();
  };
  return "B " + hrnet_summary(c.body) + head("F", c.face_head) + head("H", c.hand_head);
}

SearchResult run_search(const SearchOptions& o, const nas::ZoomNasSpace& space, const pose::ZoomNetConfig& base,
                        const std::function<EvalRows(const pose::ZoomNetConfig&)>& evaluate) {
  check(!o.out_dir.empty(), "search: an output folder (--out) is needed");
  const nas::ControllerKind kind = nas::parse_controller(o.controller, "search: --controller");
  check(std::isfinite(o.budget_gflops) && o.budget_gflops > 0, "search: --budget must be a positive number of GFLOPs, got ",
        o.budget_gflops);
  check(std::isfinite(o.min_gflops) && o.min_gflops >= 0 && o.min_gflops <= o.budget_gflops,
        "search: --min-budget must lie between 0 and --budget (", o.budget_gflops, " GFLOPs), got ", o.min_gflops);
  check(o.samples > 0, "search: --samples must be positive, got ", o.samples);
  if (kind == nas::ControllerKind::Evolution) o.evolution.validate("search: evolution");
  space.validate("search space");
  base.validate("search base config");

  const std::string state_path = (fs::path(o.out_dir) / "state.json").string();
  const json header = search_header(o, kind), space_json = nas::to_json(space), base_json = pose::to_json(base);
  std::vector<SearchCandidate> stored;
  if (o.resume) {
    stored = read_state(state_path, header, space_json, base_json);
    check(static_cast<int>(stored.size()) <= o.samples, state_path, ": holds ", stored.size(),
          " candidates, more than the search's ", o.samples);
  } else {
    check(!fs::exists(state_path), state_path, ": a search is stored here already (use --resume to continue it, or "
                                               "another folder)");
  }
  fs::create_directories(o.out_dir);

  SearchResult result;
  json state = {{"search", header}, {"space", space_json}, {"base", base_json}, {"candidates", json::array()}};
  const SearchReportInfo info{nas::controller_name(kind), o.budget_gflops, o.min_gflops, o.samples, o.seed};
  const auto start = std::chrono::steady_clock::now();

  // The controller's evaluation: the stored result while replaying, a real evaluation afterwards.
  auto score = [&](const pose::ZoomNetConfig& config) -> double {
    const size_t i = result.candidates.size();
    if (i < stored.size()) {
      check(pose::to_json(config) == pose::to_json(stored[i].config), state_path, ": candidates[", i,
            "] is not the architecture the controller proposes on replay (a state written by another version or "
            "with other options): start a new search");
      result.candidates.push_back(stored[i]);
    } else {
      if (o.stop && o.stop->load()) throw Stopped{};
      result.candidates.push_back(make_candidate(config, evaluate(config)));
      ++result.evaluated;
    }
    state["candidates"].push_back(candidate_json(result.candidates.back()));
    if (i >= stored.size()) {
      write_file_atomic(state_path, state.dump(1) + "\n");
      result.best = best_of(result.candidates);
      write_search_reports(o.out_dir, info, result.candidates, result.best);
      if (o.verbose) {
        const SearchCandidate& c = result.candidates.back();
        const SearchCandidate& b = result.candidates[result.best];
        const double spent = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        const double left = spent / result.evaluated * (o.samples - static_cast<double>(i + 1));
        std::printf("search %zu/%d  %.3f GFLOPs (body %.2f face %.2f hand %.2f)  %s AP %.4f  best %.4f (#%zu)  ETA %s\n",
                    i + 1, o.samples, nas::to_gflops(c.macs.total()), nas::to_gflops(c.macs.body),
                    nas::to_gflops(c.macs.face), nas::to_gflops(c.macs.hand), c.metric.c_str(), c.ap, b.ap,
                    result.best + 1, format_duration(left).c_str());
        std::fflush(stdout);
      }
    }
    return result.candidates.back().ap;
  };

  nas::ControllerSpec spec;
  spec.kind = kind;
  spec.budget.max_macs = nas::to_macs(o.budget_gflops);
  spec.budget.min_macs = nas::to_macs(o.min_gflops);
  spec.samples = o.samples;
  spec.seed = o.seed;
  spec.evolution = o.evolution;
  try {
    nas::run_controller(spec, space, base, score);
  } catch (const Stopped&) {
    result.stopped = true;
  }
  if (result.candidates.empty()) return result;  // stopped before the first evaluation

  result.best = best_of(result.candidates);
  // A resumed search that was complete already evaluated nothing: its reports are written here.
  write_search_reports(o.out_dir, info, result.candidates, result.best);
  if (o.verbose && result.stopped) {
    std::printf("search stopped after %zu of %d evaluations; continue with --resume\n", result.candidates.size(),
                o.samples);
  } else if (o.verbose) {
    const SearchCandidate& b = result.candidates[result.best];
    std::printf("search done: best #%zu, %s AP %.4f at %.3f GFLOPs; %s\n", result.best + 1, b.metric.c_str(), b.ap,
                nas::to_gflops(b.macs.total()), (fs::path(o.out_dir) / "best_config.json").string().c_str());
  }
  return result;
}

}  // namespace wb::tasks
