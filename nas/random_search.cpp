#include "nas/random_search.h"

#include <sstream>

#include "nas/flops.h"
#include "tensor/error.h"

namespace wb::nas {

std::string FlopsBudget::str() const {
  std::ostringstream s;
  s.precision(4);  // the budget as given: floor(0.093 x 1024^3) macs prints 0.093, not 0.0929999
  if (min_macs > 0) s << to_gflops(min_macs) << "-";
  s << to_gflops(max_macs) << " GFLOPs";
  return s.str();
}

void FlopsBudget::validate(const std::string& where) const {
  check(max_macs > 0, where, ": the FLOPs budget must be positive");
  check(min_macs >= 0 && min_macs <= max_macs, where, ": the FLOPs floor (", to_gflops(min_macs),
        " GFLOPs) must lie between 0 and the budget (", to_gflops(max_macs), " GFLOPs)");
}

pose::ZoomNetConfig sample_under_budget(const ZoomNasSpace& space, const pose::ZoomNetConfig& base,
                                        const FlopsBudget& budget, Generator& gen, int max_tries) {
  budget.validate("random search");
  for (int i = 0; i < max_tries; ++i) {
    pose::ZoomNetConfig c = sample_zoomnet(space, base, Pick::Uniform, gen);
    if (budget.fits(zoomnet_macs(c).total())) return c;
  }
  Generator any(0);  // Largest and Smallest draw nothing
  fail("random search: no sample of ", max_tries, " fits the budget of ", budget.str(), " (the space's networks have ",
       to_gflops(zoomnet_macs(sample_zoomnet(space, base, Pick::Smallest, any)).total()), " to ",
       to_gflops(zoomnet_macs(sample_zoomnet(space, base, Pick::Largest, any)).total()), " GFLOPs)");
}

std::vector<Candidate> random_search(const ZoomNasSpace& space, const pose::ZoomNetConfig& base, const FlopsBudget& budget,
                                     int samples, Generator& gen,
                                     const std::function<double(const pose::ZoomNetConfig&)>& evaluate) {
  check(samples > 0, "random search: --samples must be positive, got ", samples);
  std::vector<Candidate> out;
  for (int i = 0; i < samples; ++i) {
    Candidate c;
    c.config = sample_under_budget(space, base, budget, gen);
    c.macs = zoomnet_macs(c.config).total();
    c.score = evaluate(c.config);
    out.push_back(std::move(c));
  }
  return out;
}

size_t best_candidate(const std::vector<Candidate>& candidates) {
  check(!candidates.empty(), "random search: no candidates");
  size_t best = 0;
  for (size_t i = 1; i < candidates.size(); ++i) {
    if (candidates[i].score > candidates[best].score) best = i;
  }
  return best;
}

}  // namespace wb::nas
