// Explicit, seeded random generator. Every random choice in the engine takes one of these, so the
// same seed gives the same numbers. State can be saved and restored (checkpoints).
#pragma once
#include <cstdint>
#include <random>
#include <string>

namespace wb {

class Generator {
 public:
  explicit Generator(uint64_t seed = 0) : engine_(seed) {}
  void seed(uint64_t s) { engine_.seed(s); }
  uint64_t next_u64() { return engine_(); }
  double uniform(double lo = 0.0, double hi = 1.0);  // [lo, hi)
  double normal(double mean = 0.0, double stddev = 1.0);
  int64_t randint(int64_t lo, int64_t hi);  // [lo, hi)
  std::mt19937_64& engine() { return engine_; }
  std::string state() const;                 // textual engine state, for checkpoints
  void set_state(const std::string& state);  // error if it does not parse

 private:
  std::mt19937_64 engine_;
};

}  // namespace wb
