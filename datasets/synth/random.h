// The synthetic generator's random draws. Shapes and layout come from one wb::Generator per image
// so that a seed fixes every image bit for bit; per-pixel noise uses PixelRng, seeded from it,
// because a Mersenne twister per pixel would cost more than the whole rest of the image.
#pragma once
#include <cmath>
#include <cstdint>
#include <initializer_list>

#include "tensor/generator.h"

namespace wb::data::synth {

struct Rng {
  Generator& g;
  float u(float lo, float hi) { return static_cast<float>(g.uniform(lo, hi)); }
  float deg(float lo, float hi) { return u(lo, hi) * 3.14159265358979f / 180.0f; }
  // Log-uniform in [lo, hi]: as many people 50-100 px tall as 100-200 px.
  float log_u(float lo, float hi) { return lo * std::exp(u(0, std::log(hi / lo))); }
  bool chance(float p) { return g.uniform() < p; }
  int integer(int lo, int hi) { return static_cast<int>(g.randint(lo, hi + 1)); }  // [lo, hi]
  // An index drawn with probability proportional to its weight.
  int pick(std::initializer_list<float> weights) {
    float total = 0;
    for (float w : weights) total += w;
    float r = u(0, total);
    int i = 0;
    for (float w : weights) {
      if (r < w) return i;
      r -= w;
      ++i;
    }
    return i - 1;
  }
};

// SplitMix64's finaliser: a well-mixed 64-bit value from any input.
inline uint64_t mix64(uint64_t z) {
  z += 0x9e3779b97f4a7c15ull;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}
// One image's seed from the run's seed, the split (0 train, 1 val) and the image's index: images
// do not depend on each other, so any thread count and any split size give the same bytes.
inline uint64_t image_seed(uint64_t seed, int split, int64_t index) {
  return mix64(mix64(mix64(seed) ^ static_cast<uint64_t>(split)) ^ static_cast<uint64_t>(index));
}

// xorshift64*: cheap bytes for per-pixel noise.
struct PixelRng {
  uint64_t s;
  explicit PixelRng(uint64_t seed) : s(mix64(seed) | 1) {}
  uint64_t next() {
    s ^= s >> 12;
    s ^= s << 25;
    s ^= s >> 27;
    return s * 0x2545f4914f6cdd1dull;
  }
};

}  // namespace wb::data::synth
