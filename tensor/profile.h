// The per-op profiler's recording side. Every public op of the library (kernels/*.cpp, and the
// tensor copies and fills here) opens an OpScope at its entry, the one place each call passes
// before it picks its CPU or CUDA implementation. While a session runs, the scope records the op's
// name, the phase (forward, backward, optimizer), the device, the input shapes, the op's cost from
// its own formula (FLOPs, bytes, the papers' multiply-adds), its nesting depth, the model module
// it ran in, and its time: wall-clock on the host for CPU ops; CUDA events on the engine stream
// for GPU ops (no host synchronisation per op: the events are read when the session stops). On a
// CUDA build each op and module is also an NVTX range, so Nsight Systems shows the same structure.
//
// When no session runs, a scope is one relaxed atomic load and a branch: the cost and shapes are
// not even computed (the cost comes as a callable). wbpose-bench model --profile measures it.
//
// Analysis and output (tables, Chrome trace, roofline) are tasks/profile_report.h's.
#pragma once
#include <atomic>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

#include "tensor/device.h"

namespace wb {
class Tensor;
}

namespace wb::profile {

enum class Phase : uint8_t { Forward, Backward, Optimizer };
const char* phase_name(Phase p);

// What one call costs, from the op's own formula.
struct Cost {
  double flops = 0;  // floating-point operations actually computed (a multiply-add counts 2)
  double bytes = 0;  // compulsory memory traffic: each input read once, each output written once
  // Multiply-adds in the papers' FLOPs convention (nn/flops.h): conv, transposed conv (on its output
  // pixels) and linear only; so that a profile's total equals wbpose-info's count.
  int64_t macs = 0;
};

struct OpEvent {
  const char* op = "";  // a string literal: "conv2d", "relu_backward"
  Phase phase = Phase::Forward;
  Device device;
  std::string shapes;  // the inputs' shapes: "[32, 64, 64, 48] [64, 64, 3, 3]"
  Cost cost;
  int64_t begin_ns = 0, end_ns = 0;  // since start(); for CUDA ops, the GPU's clock on the same origin
  int thread = 0;   // the host thread that called it: 0, 1, ... in the order threads first recorded
  int depth = 0;    // on that thread: 0 when called from outside the op library, 1 when by an op, ...
  int module = -1;  // index into Session::modules; -1: outside every module
};

// A named interval on a host thread: a training step, an inference run.
struct Span {
  std::string name;
  int64_t begin_ns = 0, end_ns = 0;
  int thread = 0;
};

struct Session {
  std::vector<OpEvent> ops;  // in the order the ops began
  std::vector<Span> spans;
  std::vector<std::string> modules;  // dotted paths as state_dict() names them; "" is the model itself
  int64_t duration_ns = 0;           // start() to stop()
};

namespace detail {
extern std::atomic<bool> g_enabled;
int64_t begin_op(const char* op, std::initializer_list<const Tensor*> inputs, const Cost& cost);
void end_op(int64_t slot);
}  // namespace detail

inline bool enabled() noexcept { return detail::g_enabled.load(std::memory_order_relaxed); }

// Starts a session (an error while one runs); ops on every thread are recorded until stop().
void start();
// Ends the session and returns what it recorded (waiting for the CUDA events it used).
Session stop();

// A session owned by a scope: the constructor starts it, finish() ends it and returns the
// recording; a scope left without finish() (an exception) ends the session and drops it.
class Recording {
 public:
  Recording() { start(); }
  ~Recording();
  Recording(const Recording&) = delete;
  Recording& operator=(const Recording&) = delete;
  Session finish();

 private:
  bool running_ = true;
};

// Opened at an op's entry; `cost` is a callable returning Cost, evaluated only while recording.
class OpScope {
 public:
  template <class CostFn>
  OpScope(const char* op, std::initializer_list<const Tensor*> inputs, CostFn&& cost) {
    if (enabled()) [[unlikely]]
      slot_ = detail::begin_op(op, inputs, cost());
  }
  ~OpScope() {
    if (slot_ >= 0) [[unlikely]]
      detail::end_op(slot_);
  }
  OpScope(const OpScope&) = delete;
  OpScope& operator=(const OpScope&) = delete;

 private:
  int64_t slot_ = -1;
};

// A module's forward on this thread: ops inside it are attributed to the module's dotted path
// ("backbone.stage2.0", "" for the model). nn::Module::operator() opens one only while recording.
class ModuleScope {
 public:
  explicit ModuleScope(const std::string& path);
  ~ModuleScope();
  ModuleScope(const ModuleScope&) = delete;
  ModuleScope& operator=(const ModuleScope&) = delete;

 private:
  int prev_;
  bool active_;
};

// The module ops on this thread are attributed to now (-1: none), for the autograd engine: a
// backward node remembers the module its forward ran in and reinstates it with ModuleOverride.
int current_module();
class ModuleOverride {
 public:
  explicit ModuleOverride(int module);
  ~ModuleOverride();
  ModuleOverride(const ModuleOverride&) = delete;
  ModuleOverride& operator=(const ModuleOverride&) = delete;

 private:
  int prev_;
};

// The phase of the ops this thread runs while the scope is open (Forward outside any scope).
class PhaseScope {
 public:
  explicit PhaseScope(Phase p);
  ~PhaseScope();
  PhaseScope(const PhaseScope&) = delete;
  PhaseScope& operator=(const PhaseScope&) = delete;

 private:
  Phase prev_;
};

// A named interval on this thread (a training step), recorded while a session runs.
class SpanScope {
 public:
  explicit SpanScope(std::string name);
  ~SpanScope();
  SpanScope(const SpanScope&) = delete;
  SpanScope& operator=(const SpanScope&) = delete;

 private:
  int64_t slot_ = -1;
};

// Cost helpers for the ops' formulas.
double bytes_of(const Tensor& t);                      // numel x element size; 0 when undefined
double bytes_of_shape(const std::vector<int64_t>& shape, const Tensor& like);  // a result's bytes
// An op reading `inputs`, writing an output the size of `out_like`, `flops_per_element` per output.
Cost elementwise_cost(std::initializer_list<const Tensor*> inputs, const Tensor& out_like, double flops_per_element);

}  // namespace wb::profile
