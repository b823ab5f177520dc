// The per-op profiler (tensor/profile.h, tasks/profile_report.h): the recorded multiply-adds of a
// whole HRNet forward equal wbpose-info's counter, in total and module by module; a training
// step's op times add up to its wall time; the Chrome trace nests; a disabled profiler evaluates
// nothing.
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>

#include "autograd/engine.h"
#include "autograd/node.h"
#include "datasets/image.h"
#include "kernels/elementwise.h"
#include "kernels/linear.h"
#include "nn/flops.h"
#include "nn/optimizer.h"
#include "tasks/family.h"
#include "tasks/model_spec.h"
#include "tasks/profile_report.h"
#include "tensor/atomic_file.h"
#include "tensor/generator.h"
#include "tensor/profile.h"
#include "tests/temp_dir.h"
#include "tests/util.h"

using namespace wb;

namespace {

std::string config(const std::string& name) { return std::string(WBPOSE_SOURCE_DIR) + "/configs/" + name; }

// The multiply-adds the session's ops attributed to `module` and its descendants.
int64_t macs_under(const profile::Session& s, const std::string& module) {
  int64_t total = 0;
  for (const profile::OpEvent& e : s.ops) {
    if (e.module < 0) continue;
    const std::string& path = s.modules[static_cast<size_t>(e.module)];
    if (module.empty() || path == module || path.rfind(module + ".", 0) == 0) total += e.cost.macs;
  }
  return total;
}

// A fixed peak, so the tests do not spend time calibrating.
const tasks::Peak kPeak{100.0, 10.0};

}  // namespace

TEST_CASE("profile: an HRNet-W32 forward records the multiply-adds wbpose-info counts, per module") {
  tasks::ModelSpec spec = tasks::read_model_spec(config("hrnet_w32_coco_256x192.json"));
  nn::Module& model = *spec.model;
  const Shape input{1, 3, spec.codec.input_h, spec.codec.input_w};
  const nn::FlopsReport counted = nn::count_flops(model, input);
  REQUIRE(counted.gflops() == doctest::Approx(7.1).epsilon(0.02));  // the papers' 7.1 GFLOPs

  model.eval();
  const autograd::NoGradGuard no_grad;
  const Tensor x = Tensor::zeros(input);
  profile::Recording recording;
  model(x);
  const profile::Session s = recording.finish();
  CHECK(macs_under(s, "") == counted.macs());
  int checked = 0;
  for (const nn::ModuleCost& m : counted.modules) {
    CAPTURE(m.name);
    CHECK(macs_under(s, m.name) == m.macs);
    ++checked;
  }
  CHECK(checked > 300);
  // Every op ran in the forward phase, inside the model, on the CPU, with its input shapes.
  for (const profile::OpEvent& e : s.ops) {
    CHECK(e.phase == profile::Phase::Forward);
    CHECK(e.module >= 0);
    CHECK(e.device.is_cpu());
    CHECK(!e.shapes.empty());
  }
  const tasks::ProfileReport report(s, kPeak);
  int64_t macs = 0;
  for (const tasks::ProfileRow& r : report.rows(tasks::ProfileGroup::Module, 1)) macs += r.macs;
  CHECK(macs == counted.macs());
  const auto ops = report.rows(tasks::ProfileGroup::Op);
  REQUIRE(!ops.empty());
  CHECK(ops.front().name == "conv2d");  // the convolutions dominate an HRNet forward
}

TEST_CASE("profile: a training step's op times add up to its wall time; phases and backward modules") {
  tasks::ModelSpec spec = tasks::read_model_spec(config("train_small_cpu.json"));
  nn::Module& model = *spec.model;
  Generator gen(0);
  spec.family->init_weights(model, gen);
  model.train();
  const int64_t n = 4, k = spec.keypoints->size();
  data::Batch batch;
  batch.images = Tensor::randn({n, 3, spec.codec.input_h, spec.codec.input_w}, gen);
  batch.heatmaps = Tensor::zeros({n, k, spec.codec.heatmap_h, spec.codec.heatmap_w});
  batch.weights = Tensor::ones({n, k});
  nn::Adam adam(model.parameters(), nn::AdamOptions{});
  auto step = [&] {
    adam.zero_grad();
    autograd::backward(spec.family->loss(model, batch, batch.images).total);
    adam.step();
  };
  step();  // warm-up, unrecorded
  profile::Recording recording;
  for (int i = 0; i < 3; ++i) {
    const profile::SpanScope span("step");
    step();
  }
  const tasks::ProfileReport report(recording.finish(), kPeak);
  CHECK(report.steps() == 3);
  // The outermost ops cover the step but the bookkeeping between them (graph recording, allocation,
  // the loss's Python-free glue): on this model at least 70% of the step is in ops, never above it.
  const double step_ms = report.step_ms(), op_ms = report.op_ms();
  CAPTURE(step_ms);
  CAPTURE(op_ms);
  CHECK(op_ms <= step_ms * 1.0001);
  CHECK(op_ms >= 0.7 * step_ms);
  // Self times partition the outermost ops' time.
  double self = 0;
  for (const tasks::ProfileRow& r : report.rows(tasks::ProfileGroup::Op)) self += r.self_ms;
  CHECK(self == doctest::Approx(op_ms).epsilon(1e-6));

  std::map<std::string, int> phases;
  bool backward_in_backbone = false;
  const profile::Session& s = report.session();
  for (const profile::OpEvent& e : s.ops) {
    ++phases[profile::phase_name(e.phase)];
    if (e.phase == profile::Phase::Backward && std::string(e.op) == "conv2d_backward" && e.module >= 0)
      backward_in_backbone = backward_in_backbone || s.modules[static_cast<size_t>(e.module)].rfind("backbone.", 0) == 0;
  }
  CHECK(phases["forward"] > 0);
  CHECK(phases["backward"] > 0);
  CHECK(phases["optimizer"] == 3);  // one fused adam_step per step
  CHECK(backward_in_backbone);
}

TEST_CASE("profile: the Chrome trace nests begin and end events per track; the files are written") {
  const Tensor a = Tensor::ones({64, 64}), b = Tensor::ones({64, 64});
  profile::Recording recording;
  {
    const profile::SpanScope span("step");
    const Tensor c = kernels::linear_forward(a, b, Tensor());
    const Tensor d = kernels::relu_forward(kernels::add(c, a.transpose(0, 1)));
  }
  const tasks::ProfileReport report(recording.finish(), kPeak);
  const nlohmann::json trace = nlohmann::json::parse(tasks::chrome_trace(report.session()).dump());
  REQUIRE(trace.contains("traceEvents"));
  std::map<int, std::vector<std::string>> open;
  std::map<int, double> last_ts;
  int begins = 0;
  for (const auto& e : trace["traceEvents"]) {
    const std::string ph = e.at("ph");
    const int tid = e.at("tid");
    if (ph == "M") continue;
    const double ts = e.at("ts");
    CHECK(ts >= last_ts[tid]);
    last_ts[tid] = ts;
    if (ph == "B") {
      open[tid].push_back(e.at("name"));
      ++begins;
    } else {
      REQUIRE(ph == "E");
      REQUIRE(!open[tid].empty());
      open[tid].pop_back();
    }
  }
  for (const auto& [tid, stack] : open) CHECK(stack.empty());
  CHECK(begins == static_cast<int>(report.session().ops.size() + report.session().spans.size()));
  // linear's gemm nests inside it.
  bool nested = false;
  for (const profile::OpEvent& e : report.session().ops) nested = nested || (std::string(e.op) == "gemm" && e.depth == 1);
  CHECK(nested);

  const test::TempDir dir;
  const std::string text = tasks::write_profile((dir.path / "profile").string(), report);
  CHECK(text.find("By op") != std::string::npos);
  CHECK(text.find("gemm") != std::string::npos);
  const data::Image png = data::read_image((dir.path / "profile" / "roofline.png").string(), 3);
  CHECK(png.width == 900);
  const auto j = nlohmann::json::parse(read_file((dir.path / "profile" / "profile.json").string()));
  CHECK(j.at("steps") == 1);
  CHECK(std::filesystem::exists(dir.path / "profile" / "trace.json"));
}

TEST_CASE("profile: off, a scope evaluates nothing; sessions do not nest") {
  const Tensor t = Tensor::ones({2});
  int evaluated = 0;
  { const profile::OpScope s("x", {&t}, [&] { ++evaluated; return profile::Cost{}; }); }
  CHECK(evaluated == 0);
  CHECK(!profile::enabled());
  profile::Recording recording;
  { const profile::OpScope s("x", {&t}, [&] { ++evaluated; return profile::Cost{}; }); }
  CHECK(evaluated == 1);
  CHECK(test::error_of([] { profile::start(); }).find("already running") != std::string::npos);
  const profile::Session s = recording.finish();
  CHECK(s.ops.size() == 1);
  CHECK(!profile::enabled());
  CHECK(test::error_of([] { profile::stop(); }).find("no profiling session") != std::string::npos);
  // A recording left by an exception ends its session.
  CHECK(!test::error_of([] {
           profile::Recording r;
           fail("boom");
         }).empty());
  CHECK(!profile::enabled());
  const tasks::Peak peak = tasks::measure_peak(Device::cpu(), 128, 1 << 20);
  CHECK(peak.gflops > 0);
  CHECK(peak.gbps > 0);
}
