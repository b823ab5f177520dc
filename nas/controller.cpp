#include "nas/controller.h"

#include "tensor/error.h"
#include "tensor/generator.h"

namespace wb::nas {

ControllerKind parse_controller(const std::string& name, const std::string& where) {
  if (name == "random") return ControllerKind::Random;
  if (name == "evolution") return ControllerKind::Evolution;
  fail(where, ": unknown controller \"", name, "\" (expected \"random\" or \"evolution\")");
}

std::string controller_name(ControllerKind kind) { return kind == ControllerKind::Random ? "random" : "evolution"; }

std::vector<Candidate> run_controller(const ControllerSpec& spec, const ZoomNasSpace& space,
                                      const pose::ZoomNetConfig& base,
                                      const std::function<double(const pose::ZoomNetConfig&)>& evaluate) {
  spec.budget.validate("search");
  Generator gen(spec.seed);
  if (spec.kind == ControllerKind::Random) return random_search(space, base, spec.budget, spec.samples, gen, evaluate);
  return evolution_search(space, base, spec.budget, spec.samples, gen, evaluate, spec.evolution);
}

}  // namespace wb::nas
