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

// Its message pieces are evaluated on every call, failing or not: on a hot path write
// `if (!ok) fail(...)` when a piece costs something to build (a shape string, say).
template <class... Args>
void check(bool ok, const Args&... args) {
  if (!ok) fail(args...);
}

// Runs f and returns its result; an engine error it raises is raised again with `where` (a file,
// an entry) in front of its message.
template <class F>
auto with_context(const std::string& where, F&& f) {
  try {
    return f();
  } catch (const Error& e) {
    fail(where, ": ", e.what());
  }
}

}  // namespace wb
