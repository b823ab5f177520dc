#include "tensor/shape.h"

#include <sstream>

#include "tensor/error.h"

namespace wb {

int64_t numel_of(const Shape& s) {
  int64_t n = 1;
  for (int64_t d : s) {
    // A shape read from a file can ask for more elements than int64 counts: refuse it here, where
    // every size computation starts, instead of wrapping to a small count.
    // (An if, not check(): the message must not be built on every call of this hot function.)
    if (__builtin_mul_overflow(n, d, &n)) fail("shape ", shape_str(s), " has more elements than int64 can count");
  }
  return n;
}

Shape contiguous_strides(const Shape& s) {
  Shape st(s.size());
  int64_t acc = 1;
  for (size_t i = s.size(); i-- > 0;) {
    st[i] = acc;
    acc *= s[i];
  }
  return st;
}

std::string shape_str(const Shape& s) {
  std::ostringstream os;
  os << '[';
  for (size_t i = 0; i < s.size(); ++i) os << (i ? ", " : "") << s[i];
  os << ']';
  return os.str();
}

}  // namespace wb
