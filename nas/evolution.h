// An evolutionary controller over the ZoomNAS space (our improvement on the paper's random search;
// docs/nas.md gives the hyper-parameters and their reasons). Elitist (mu + lambda) evolution with
// the same evaluation budget as random search:
//   1. an initial population of `population` distinct uniform samples under the budget;
//   2. then generations of `population` children each, bred from the `parents` best of everything
//      evaluated so far: a share `mutation_share` by mutation of one parent (each dimension re-drawn
//      among its other choices with probability `mutation_prob`), the rest by uniform crossover of
//      two distinct parents (each dimension from either);
//   until `samples` networks are evaluated (the initial population counts).
// Constraint-aware: a child outside the budget (zoomnet_macs().total(); above it, or below its
// floor) or equal to an evaluated network is never evaluated; it is bred again, and after
// `max_tries` failed breedings replaced by a fresh uniform sample under the budget that is new. Every random draw comes from the generator, so a run
// is a function of (seed, the scores returned): replaying it with stored scores repeats it exactly.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "nas/random_search.h"
#include "nas/space.h"
#include "tensor/generator.h"

namespace wb::nas {

struct EvolutionOptions {
  int population = 50;          // the initial samples and the children per generation
  int parents = 10;             // the best evaluated networks children are bred from
  double mutation_share = 0.5;  // of each generation's children; the rest by crossover
  double mutation_prob = 0.1;   // per dimension
  int max_tries = 100;          // breedings per child before a fresh sample replaces it
  void validate(const std::string& where) const;  // errors name the field
};

// Fields as named above, over the defaults; unknown fields are an error naming them.
EvolutionOptions evolution_options_from_json(const nlohmann::json& j, const std::string& where);
nlohmann::json to_json(const EvolutionOptions& o);

// Exactly `samples` distinct candidates under the budget, in evaluation order.
std::vector<Candidate> evolution_search(const ZoomNasSpace& space, const pose::ZoomNetConfig& base,
                                        const FlopsBudget& budget, int samples, Generator& gen,
                                        const std::function<double(const pose::ZoomNetConfig&)>& evaluate,
                                        const EvolutionOptions& options = {});

// The variation operators on points of `space` (both return a point of it). A group count that the
// child's width does not admit (the width came from the other parent, or mutated) is re-drawn
// uniformly among those it admits.
pose::ZoomNetConfig mutate(const ZoomNasSpace& space, const pose::ZoomNetConfig& parent, double prob,
                           Generator& gen);
pose::ZoomNetConfig crossover(const ZoomNasSpace& space, const pose::ZoomNetConfig& a, const pose::ZoomNetConfig& b,
                              Generator& gen);

// A string equal for equal architectures: what duplicates are recognised by.
std::string config_key(const pose::ZoomNetConfig& c);

}  // namespace wb::nas
