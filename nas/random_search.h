// The paper's controller (spec/zoomnas.md §2.3): uniform samples of the space, each kept only when
// its overall FLOPs (nas/flops.h, the whole ZoomNet on one person) fit the budget, then evaluated
// by the caller's function (nas/ reads no data: the caller runs BN recalibration and validation).
// The budget may also have a floor (ours, off by default): samples then fill a FLOPs band.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "nas/space.h"
#include "tensor/generator.h"

namespace wb::nas {

// The overall FLOPs a sampled network may have: zoomnet_macs().total() in [min_macs, max_macs].
// min_macs = 0 is the paper's plain budget. A floor keeps uniform samples, most of which are far
// below a budget (group choices make most networks small), in the band where the budget binds.
struct FlopsBudget {
  int64_t max_macs = 0;
  int64_t min_macs = 0;
  bool fits(int64_t macs) const { return macs >= min_macs && macs <= max_macs; }
  std::string str() const;  // "0.093 GFLOPs" or "0.074-0.093 GFLOPs"
  void validate(const std::string& where) const;  // 0 < max, 0 <= min <= max
};

// A uniform sample that fits the budget, by rejection; an error after max_tries samples outside it
// (a budget below the space's smallest network, or a band too narrow to hit).
pose::ZoomNetConfig sample_under_budget(const ZoomNasSpace& space, const pose::ZoomNetConfig& base,
                                        const FlopsBudget& budget, Generator& gen, int max_tries = 100000);

struct Candidate {
  pose::ZoomNetConfig config;
  int64_t macs = 0;
  double score = 0;  // what the evaluation returned (whole-body AP)
};

// `samples` candidates under the budget, each scored by `evaluate`; the result in sampling order.
// Deterministic by the generator's seed (the evaluation's own determinism is the caller's).
std::vector<Candidate> random_search(const ZoomNasSpace& space, const pose::ZoomNetConfig& base, const FlopsBudget& budget,
                                     int samples, Generator& gen,
                                     const std::function<double(const pose::ZoomNetConfig&)>& evaluate);

// The index of the highest score (the first on ties); an error for an empty list.
size_t best_candidate(const std::vector<Candidate>& candidates);

}  // namespace wb::nas
