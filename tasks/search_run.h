// The ZoomNAS search driver (`wbpose-search search`, issue 9): a controller (nas/controller.h)
// proposes sub-networks under an overall FLOPs budget (optionally above a floor), the caller's
// function evaluates each (tasks/subnet_eval.h: export, BN recalibration, validation -> the part
// table), and the whole-body AP (ranking_ap) is the score the controller ranks by.
//
// The output folder (SearchOptions::out_dir) holds
//   state.json        the search's options, space and base config, and every evaluated candidate
//                     (config, GFLOPs per module, part table); rewritten atomically after every
//                     evaluation
//   results.md        one row per candidate in evaluation order: index, a short config summary,
//   results.csv       GFLOPs body/face/hand/total, AP per part; the best marked
//   best_config.json  the best candidate as a ZoomNet model config (wbpose-info, a training
//                     config's "model")
//   pareto.png        AP against GFLOPs: every candidate, the Pareto front joined, the best ringed,
//                     the budget line
// The reports are rewritten after every evaluation too, so a running search can be watched.
//
// Resuming (SearchOptions::resume) replays the controller from the start with the stored part
// tables in place of evaluations (the controllers are deterministic given their scores), checking
// that each proposal equals the stored config, then goes on evaluating: a search stopped and
// resumed ends with the same files, byte for byte, as one that was not.
#pragma once
#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "nas/controller.h"
#include "nas/flops.h"
#include "nas/space.h"
#include "pose/models/zoomnet.h"
#include "tasks/trainer.h"

namespace wb::tasks {

struct SearchOptions {
  std::string out_dir;                // state.json, results.md, results.csv, best_config.json, pareto.png
  std::string controller = "random";  // "random" | "evolution"
  double budget_gflops = 0;           // overall ZoomNet GFLOPs (nas/flops.h)
  double min_gflops = 0;              // a floor under it (nas::FlopsBudget); 0: the paper's plain budget
  int samples = 500;                  // sub-networks evaluated
  uint64_t seed = 0;
  bool resume = false;
  bool verbose = true;                // a progress line per evaluation on stdout
  nas::EvolutionOptions evolution;    // the evolutionary controller's hyper-parameters
  // Checked before every new evaluation: once true, run_search returns with what is evaluated
  // (SearchResult::stopped); --resume continues from there.
  const std::atomic<bool>* stop = nullptr;
};

struct SearchCandidate {
  pose::ZoomNetConfig config;
  nas::ZoomNetMacs macs;
  EvalRows rows;       // the evaluation's part table
  std::string metric;  // the row ranked by ("wholebody", or "body" when absent)
  double ap = 0;       // its AP: the controller's score
};

struct SearchResult {
  std::vector<SearchCandidate> candidates;  // in evaluation order
  size_t best = 0;                          // the highest AP, the first on ties
  int evaluated = 0;                        // by this call (the rest were replayed from state.json)
  bool stopped = false;                     // by SearchOptions::stop, before `samples` were evaluated
};

// The evaluation is the caller's (tasks/subnet_eval.h's evaluate_subnet in wbpose-search).
// Errors (bad options, an existing state.json without resume, a state.json that does not match the
// options or the replay) name the file or field and come before anything is evaluated or written.
SearchResult run_search(const SearchOptions& o, const nas::ZoomNasSpace& space, const pose::ZoomNetConfig& base,
                        const std::function<EvalRows(const pose::ZoomNetConfig&)>& evaluate);

// "B 384x288 c64 L4x64g1 D4.16.12 W32.64.128.256 G1.1.1.1; F 64 L... s0 e1; H ...": the searched
// dimensions of a candidate on one line, with no "|" or "," (results.md table, results.csv).
std::string config_summary(const pose::ZoomNetConfig& c);

}  // namespace wb::tasks
