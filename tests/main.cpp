#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <sstream>

#include "kernels/cpu/isa.h"
#include "tensor/error.h"
#include "tensor/generator.h"
#include "tests/util.h"

namespace wb::test {

namespace {
bool g_skipped = false;
}

void mark_skipped(const std::string& why) {
  std::fprintf(stderr, "\n*** SKIPPED: %s ***\n\n", why.c_str());
  g_skipped = true;
}

bool run_was_skipped() { return g_skipped; }

void for_each_cpu_isa(const std::function<void()>& body) {
  using kernels::cpu::CpuIsa;
  for (CpuIsa isa : {CpuIsa::generic, CpuIsa::avx2, CpuIsa::avx512}) {
    const std::string name = kernels::cpu::cpu_isa_name(isa);
    if (!kernels::cpu::cpu_isa_supported(isa)) {
      std::fprintf(stderr, "*** PATH SKIPPED: CPU path %s (this machine or build lacks it) ***\n", name.c_str());
      continue;
    }
    const kernels::cpu::CpuIsaOverride use(isa);
    INFO("CPU path " << name);
    body();
  }
}

CloseResult compare(const Tensor& actual, const Tensor& expected, double atol, double rtol) {
  CloseResult r;
  if (actual.shape() != expected.shape()) {
    r.ok = false;
    r.message = "shape " + actual.str() + " vs expected " + expected.str();
    return r;
  }
  const std::vector<double> a = actual.to_double_vector(), e = expected.to_double_vector();
  for (size_t i = 0; i < a.size(); ++i) {
    const double d = std::fabs(a[i] - e[i]);
    if (!(d <= atol + rtol * std::fabs(e[i]))) {  // also catches NaN
      if (r.ok) {
        std::ostringstream os;
        os.precision(17);
        os << "element " << i << " of " << actual.str() << ": " << a[i] << " vs expected " << e[i]
           << " (atol " << atol << ", rtol " << rtol << ")";
        r.message = os.str();
      }
      r.ok = false;
    }
    if (!std::isnan(d)) r.max_abs = std::max(r.max_abs, d);
  }
  return r;
}

Tensor randn64(const Shape& shape, uint64_t seed, bool requires_grad, double stddev) {
  Generator g(seed);
  Tensor t = Tensor::randn(shape, g, DType::F64, Device::cpu(), 0.0, stddev);
  if (requires_grad) t.set_requires_grad(true);
  return t;
}

bool load_reference(const std::string& name, SafetensorsFile& out) {
  const char* dir = std::getenv("WBPOSE_REF_DIR");
  const std::string path = std::string(dir ? dir : "reference") + "/" + name + ".safetensors";
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) {
    const char* ci = std::getenv("CI");
    if (ci && std::string(ci) == "true") {
      FAIL("PyTorch reference " << path << " is missing: the oracle must run in CI (tests/reference/run_all.py)");
      return false;
    }
    mark_skipped("PyTorch reference " + path + " is missing (is python3-torch installed? run scripts/install-deps.sh)");
    return false;
  }
  std::fclose(f);
  out = load_safetensors(path);
  return true;
}

const Tensor& ref(const SafetensorsFile& f, const std::string& name) {
  auto it = f.tensors.find(name);
  REQUIRE_MESSAGE(it != f.tensors.end(), "reference has no tensor '" << name << "'");
  return it->second;
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace wb::test

int main(int argc, char** argv) {
  doctest::Context ctx(argc, argv);
  const int rc = ctx.run();
  if (ctx.shouldExit()) return rc;
  if (rc == 0 && wb::test::run_was_skipped()) return 77;
  return rc;
}
