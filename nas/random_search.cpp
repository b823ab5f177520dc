#include "nas/random_search.h"

#include "nas/flops.h"
#include "tensor/error.h"

namespace wb::nas {

pose::ZoomNetConfig sample_under_budget(const ZoomNasSpace& space, const pose::ZoomNetConfig& base,
                                        int64_t budget_macs, Generator& gen, int max_tries) {
  for (int i = 0; i < max_tries; ++i) {
    pose::ZoomNetConfig c = sample_zoomnet(space, base, Pick::Uniform, gen);
    if (zoomnet_macs(c).total() <= budget_macs) return c;
  }
  fail("random search: no sample of ", max_tries, " fits the budget of ", to_gflops(budget_macs),
       " GFLOPs (the smallest network of the space has ",
       to_gflops(zoomnet_macs(sample_zoomnet(space, base, Pick::Smallest, gen)).total()), ")");
}

std::vector<Candidate> random_search(const ZoomNasSpace& space, const pose::ZoomNetConfig& base, int64_t budget_macs,
                                     int samples, Generator& gen,
                                     const std::function<double(const pose::ZoomNetConfig&)>& evaluate) {
  check(samples > 0, "random search: --samples must be positive, got ", samples);
  std::vector<Candidate> out;
  for (int i = 0; i < samples; ++i) {
    Candidate c;
    c.config = sample_under_budget(space, base, budget_macs, gen);
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
