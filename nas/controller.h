// Both NAS controllers behind one call: the paper's random search (nas/random_search.h) and our
// evolutionary search (nas/evolution.h). A controller only proposes architectures and reads their
// scores: the caller's `evaluate` runs BN recalibration and validation (nas/ reads no data).
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "nas/evolution.h"
#include "nas/random_search.h"
#include "nas/space.h"

namespace wb::nas {

enum class ControllerKind { Random, Evolution };

// "random" | "evolution"; anything else is an error naming `where` and the value.
ControllerKind parse_controller(const std::string& name, const std::string& where);
std::string controller_name(ControllerKind kind);

struct ControllerSpec {
  ControllerKind kind = ControllerKind::Random;
  FlopsBudget budget;       // the overall ZoomNet (zoomnet_macs().total()) must fit
  int samples = 500;        // networks evaluated
  uint64_t seed = 0;
  EvolutionOptions evolution;  // read by the evolutionary controller only
};

// The evaluated candidates in evaluation order. Deterministic by seed given the scores: a run
// replayed with the scores it was given proposes the same architectures in the same order.
std::vector<Candidate> run_controller(const ControllerSpec& spec, const ZoomNasSpace& space,
                                      const pose::ZoomNetConfig& base,
                                      const std::function<double(const pose::ZoomNetConfig&)>& evaluate);

}  // namespace wb::nas
