// One exception type for every error the engine reports; messages name the op, file, field or shapes.
#pragma once
#include <sstream>
#include <stdexcept>
#include <string>

namespace wb {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Builds a message from any streamable pieces: fail("conv2d: x ", x.str(), " vs w ", w.str()).
template <class... Args>
[[noreturn]] void fail(const Args&... args) {
  std::ostringstream os;
  (os << ... << args);
  throw Error(os.str());
}

template <class... Args>
void check(bool ok, const Args&... args) {
  if (!ok) fail(args...);
}

}  // namespace wb
