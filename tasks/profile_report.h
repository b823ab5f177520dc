// The per-op profiler's analysis and output (the recording is tensor/profile.h's): a session's ops
// grouped by op kind, by op and input shape, or by model module, with calls, time, share of the
// step, achieved GFLOP/s and GB/s and the fraction of the roofline at the op's arithmetic intensity;
// the machine's peaks measured by a small calibration; a Chrome trace (Trace Event Format, opened by
// Perfetto and chrome://tracing) and a roofline plot (PNG).
//
// Times are self times: an op's duration less that of the ops it called (a conv's contiguous copy
// is the copy's), so the rows add up to the time spent in the op library.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tensor/device.h"
#include "tensor/profile.h"

namespace wb::tasks {

// The machine's roofs, measured on `device`: a large f32 GEMM through the op library (the best of
// a few runs) and a large copy within the device's memory (read plus write bytes; on the CPU every
// core copies its share). Each is an error while a profiling session records (it would profile itself).
struct Peak {
  double gflops = 0;  // GFLOP/s, a multiply-add counting 2
  double gbps = 0;    // GB/s
};
double measure_gemm_gflops(Device device, int64_t n = 2048);
double measure_copy_gbps(Device device, int64_t bytes = int64_t{256} << 20);
Peak measure_peak(Device device, int64_t gemm_n = 2048, int64_t copy_bytes = int64_t{256} << 20);

enum class ProfileGroup { Op, OpShape, Module };

struct ProfileRow {
  std::string name;   // op ("conv2d"), op and shapes, or module path ("backbone.stage2")
  std::string phase;  // forward / backward / optimizer; "" for module rows (all phases)
  int64_t calls = 0;
  double self_ms = 0;
  double flops = 0, bytes = 0;
  int64_t macs = 0;  // the papers' multiply-adds (nn/flops.h convention)
};

// A session's analysis. Steps are the session's spans ("step" in training, "image" in inference);
// without any, the whole session is the one step.
class ProfileReport {
 public:
  ProfileReport(profile::Session session, Peak peak);
  // Ends `recording`, then measures the peaks of `device` (in that order: the calibration must not
  // be recorded), and analyses the session.
  static ProfileReport finish(profile::Recording& recording, Device device);

  const profile::Session& session() const { return session_; }
  const Peak& peak() const { return peak_; }
  int64_t steps() const;
  double step_ms() const;              // the steps' total wall time
  double op_ms() const;                // time in the op library during the steps (outermost ops)

  // Rows sorted by self time, largest first. Module rows: paths cut to `module_depth` components
  // (0: the model as one row); ops outside any module are "(outside modules)".
  std::vector<ProfileRow> rows(ProfileGroup group, int module_depth = 2) const;
  // Achieved rates and the fraction of the roof min(peak FLOP/s, intensity x peak bandwidth) (an op
  // without FLOPs: achieved over peak bandwidth).
  double gflops_per_s(const ProfileRow& r) const;
  double gbytes_per_s(const ProfileRow& r) const;
  double roof_fraction(const ProfileRow& r) const;

  // The three tables (by op, by op and shape, by module), `top` rows each, with a header naming the
  // steps, their time and the peaks.
  std::string text(int top = 25, int module_depth = 2) const;
  // The same as JSON: {steps, step_ms, op_ms, peak, ops: [...], shapes: [...], modules: [...]}.
  nlohmann::json json(int module_depth = 2) const;

 private:
  profile::Session session_;
  Peak peak_;
  std::vector<double> self_ms_;  // per session op
  std::vector<bool> in_steps_;   // per session op: it began inside a step on its thread
};

// The Chrome trace: a begin and an end event per op on its host thread's track (CUDA ops on their
// device's stream track), the steps on a track of their own; args carry phase, shapes, module,
// FLOPs and bytes.
nlohmann::json chrome_trace(const profile::Session& session);

// The roofline: each op kind (op and phase) with FLOPs as a point at (FLOP per byte, achieved
// GFLOP/s), its area by share of the time, under the measured roofs; log-log axes.
void write_roofline_png(const std::string& path, const ProfileReport& report);

// Writes profile.txt (text()), profile.json, trace.json and roofline.png into `dir` (created when
// absent; each file atomically) and returns text().
std::string write_profile(const std::string& dir, const ProfileReport& report, int top = 25);

}  // namespace wb::tasks
