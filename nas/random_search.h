// The paper's controller (spec/zoomnas.md §2.3): uniform samples of the space, each kept only when
// its overall FLOPs (nas/flops.h, the whole ZoomNet on one person) fit the budget, then evaluated
// by the caller's function (nas/ reads no data: the caller runs BN recalibration and validation).
#pragma once
#include <cstdint>
#include <functional>
#include <vector>

#include "nas/space.h"
#include "tensor/generator.h"

namespace wb::nas {

// A uniform sample whose zoomnet_macs().total() <= budget_macs, by rejection; an error after
// max_tries samples over budget (a budget below the space's smallest network).
pose::ZoomNetConfig sample_under_budget(const ZoomNasSpace& space, const pose::ZoomNetConfig& base,
                                        int64_t budget_macs, Generator& gen, int max_tries = 10000);

struct Candidate {
  pose::ZoomNetConfig config;
  int64_t macs = 0;
  double score = 0;  // what the evaluation returned (whole-body AP)
};

// `samples` candidates under the budget, each scored by `evaluate`; the result in sampling order.
// Deterministic by the generator's seed (the evaluation's own determinism is the caller's).
std::vector<Candidate> random_search(const ZoomNasSpace& space, const pose::ZoomNetConfig& base, int64_t budget_macs,
                                     int samples, Generator& gen,
                                     const std::function<double(const pose::ZoomNetConfig&)>& evaluate);

// The index of the highest score (the first on ties); an error for an empty list.
size_t best_candidate(const std::vector<Candidate>& candidates);

}  // namespace wb::nas
