#include "tensor/generator.h"

#include <cmath>
#include <sstream>

#include "tensor/error.h"

namespace wb {

double Generator::uniform(double lo, double hi) {
  // 53 random bits -> [0, 1); implemented here rather than std::uniform_real_distribution so that
  // the sequence is identical across standard libraries.
  const double u = static_cast<double>(engine_() >> 11) * (1.0 / 9007199254740992.0);
  return lo + (hi - lo) * u;
}

double Generator::normal(double mean, double stddev) {
  // Box-Muller with one draw per call: simple and reproducible everywhere.
  double u1 = uniform();
  while (u1 <= 1e-300) u1 = uniform();
  const double u2 = uniform();
  return mean + stddev * std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * M_PI * u2);
}

int64_t Generator::randint(int64_t lo, int64_t hi) {
  check(hi > lo, "Generator::randint: empty range [", lo, ", ", hi, ")");
  const uint64_t span = static_cast<uint64_t>(hi - lo);
  return lo + static_cast<int64_t>(engine_() % span);
}

std::string Generator::state() const {
  std::ostringstream os;
  os << engine_;
  return os.str();
}

void Generator::set_state(const std::string& state) {
  std::istringstream is(state);
  std::mt19937_64 e;
  is >> e;
  check(!is.fail(), "Generator::set_state: the saved generator state does not parse");
  engine_ = e;
}

}  // namespace wb
