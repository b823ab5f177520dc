#include "tensor/profile.h"

#include <chrono>
#include <map>
#include <mutex>

#include "tensor/cuda_runtime.h"
#include "tensor/error.h"
#include "tensor/tensor.h"

namespace wb::profile {

namespace detail {
std::atomic<bool> g_enabled{false};
}  // namespace detail

namespace {

using Clock = std::chrono::steady_clock;

// One session's state. Ops append under the mutex; an op is milliseconds of work at CPU sizes, so
// one lock per call is cheap beside it, and nothing is locked while no session runs.
struct Recorder {
  std::mutex mu;
  Session session;
  Clock::time_point origin;
  int next_thread = 0;
  uint64_t generation = 0;  // bumped by start(): threads take a new index per session
  // CUDA ops: the events bracketing op i (in session.ops), and per device the reference event
  // recorded, after a synchronisation, at host time ref_ns.
  std::map<int64_t, std::pair<void*, void*>> cuda_events;
  std::map<int, std::pair<void*, int64_t>> cuda_ref;
  std::map<std::string, int> module_ids;
};

Recorder& recorder() {
  static Recorder r;
  return r;
}

struct ThreadState {
  uint64_t generation = 0;
  int thread = 0;
  int depth = 0;
  int module = -1;
  Phase phase = Phase::Forward;
};
thread_local ThreadState t_state;

int64_t now_ns(const Recorder& r) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - r.origin).count();
}

// This thread's index in the running session (the caller holds the lock).
int thread_locked(Recorder& r) {
  if (t_state.generation != r.generation) {
    t_state.generation = r.generation;
    t_state.thread = r.next_thread++;
  }
  return t_state.thread;
}

std::string shapes_of(std::initializer_list<const Tensor*> inputs) {
  std::string s;
  for (const Tensor* t : inputs) {
    if (t == nullptr || !t->defined()) continue;
    if (!s.empty()) s += ' ';
    s += shape_str(t->shape());
  }
  return s;
}

// A scope's handle: the session's generation in the high bits, the record's index in the low 32,
// so that a scope closing after its session ended never touches the next session's records.
int64_t handle_of(const Recorder& r, size_t index) {
  return static_cast<int64_t>(((r.generation & 0x7fffffffu) << 32) | static_cast<uint64_t>(index));
}
// The index a handle names in the running session, or -1 when it belongs to an earlier one.
int64_t index_of(const Recorder& r, int64_t handle, size_t size) {
  const auto h = static_cast<uint64_t>(handle);
  const uint64_t index = h & 0xffffffffu;
  if ((h >> 32) != (r.generation & 0x7fffffffu) || index >= size) return -1;
  return static_cast<int64_t>(index);
}

int intern_module_locked(Recorder& r, const std::string& path) {
  const auto [it, added] = r.module_ids.emplace(path, static_cast<int>(r.session.modules.size()));
  if (added) r.session.modules.push_back(path);
  return it->second;
}

}  // namespace

const char* phase_name(Phase p) {
  switch (p) {
    case Phase::Forward:
      return "forward";
    case Phase::Backward:
      return "backward";
    case Phase::Optimizer:
      return "optimizer";
  }
  return "?";
}

void start() {
  Recorder& r = recorder();
  const std::lock_guard lock(r.mu);
  check(!detail::g_enabled.load(), "profile::start: a profiling session is already running");
  r.session = Session{};
  r.cuda_events.clear();
  r.cuda_ref.clear();
  r.module_ids.clear();
  r.next_thread = 0;
  ++r.generation;
  r.origin = Clock::now();
  detail::g_enabled.store(true);
}

Session stop() {
  Recorder& r = recorder();
  const std::lock_guard lock(r.mu);
  check(detail::g_enabled.load(), "profile::stop: no profiling session is running");
  detail::g_enabled.store(false);
  r.session.duration_ns = now_ns(r);
  // GPU ops: their times are the events' offsets from the device's reference event, placed on the
  // host clock at the moment that reference was recorded.
  for (const auto& [slot, ev] : r.cuda_events) {
    OpEvent& e = r.session.ops[static_cast<size_t>(slot)];
    const auto& [ref, ref_ns] = r.cuda_ref.at(e.device.index);
    e.begin_ns = ref_ns + static_cast<int64_t>(1e6 * cuda::event_elapsed_ms(ref, ev.first));
    e.end_ns = ev.second ? ref_ns + static_cast<int64_t>(1e6 * cuda::event_elapsed_ms(ref, ev.second)) : e.begin_ns;
    cuda::destroy_event(ev.first);
    cuda::destroy_event(ev.second);
  }
  for (const auto& [device, ref] : r.cuda_ref) cuda::destroy_event(ref.first);
  r.cuda_events.clear();
  r.cuda_ref.clear();
  return std::move(r.session);
}

Recording::~Recording() {
  if (!running_) return;
  try {
    stop();
  } catch (...) {  // the destructor runs while unwinding: the recording is only dropped
  }
}

Session Recording::finish() {
  check(running_, "profile::Recording::finish: called twice");
  running_ = false;
  return stop();
}

namespace detail {

int64_t begin_op(const char* op, std::initializer_list<const Tensor*> inputs, const Cost& cost) {
  OpEvent e;
  e.op = op;
  e.phase = t_state.phase;
  for (const Tensor* t : inputs)
    if (t != nullptr && t->defined()) {
      e.device = t->device();
      break;
    }
  e.shapes = shapes_of(inputs);
  e.cost = cost;
  e.depth = t_state.depth;
  e.module = t_state.module;
  Recorder& r = recorder();
  const std::lock_guard lock(r.mu);
  if (!g_enabled.load()) return -1;  // the session stopped meanwhile
  e.thread = thread_locked(r);
  if (e.device.is_cuda() && !r.cuda_ref.contains(e.device.index)) {
    const int d = e.device.index;
    cuda::synchronize(d);
    r.cuda_ref[d] = {cuda::record_event(d), now_ns(r)};
  }
  const auto slot = static_cast<int64_t>(r.session.ops.size());
  if (e.device.is_cuda()) {
    r.cuda_events[slot] = {cuda::record_event(e.device.index), nullptr};
  } else {
    e.begin_ns = now_ns(r);
  }
  r.session.ops.push_back(std::move(e));
  ++t_state.depth;
  cuda::nvtx_push(op);
  return handle_of(r, static_cast<size_t>(slot));
}

void end_op(int64_t handle) {
  cuda::nvtx_pop();
  --t_state.depth;
  Recorder& r = recorder();
  const std::lock_guard lock(r.mu);
  const int64_t slot = index_of(r, handle, r.session.ops.size());
  if (slot < 0) return;  // its session has ended
  OpEvent& e = r.session.ops[static_cast<size_t>(slot)];
  if (e.device.is_cuda()) {
    auto it = r.cuda_events.find(slot);
    if (it != r.cuda_events.end()) it->second.second = cuda::record_event(e.device.index);
  } else {
    e.end_ns = now_ns(r);
  }
}

}  // namespace detail

ModuleScope::ModuleScope(const std::string& path) : prev_(t_state.module), active_(enabled()) {
  if (!active_) return;
  Recorder& r = recorder();
  {
    const std::lock_guard lock(r.mu);
    t_state.module = intern_module_locked(r, path);
  }
  cuda::nvtx_push(path.empty() ? "model" : path.c_str());
}

ModuleScope::~ModuleScope() {
  if (!active_) return;
  cuda::nvtx_pop();
  t_state.module = prev_;
}

int current_module() { return t_state.module; }

ModuleOverride::ModuleOverride(int module) : prev_(t_state.module) { t_state.module = module; }
ModuleOverride::~ModuleOverride() { t_state.module = prev_; }

PhaseScope::PhaseScope(Phase p) : prev_(t_state.phase) { t_state.phase = p; }
PhaseScope::~PhaseScope() { t_state.phase = prev_; }

SpanScope::SpanScope(std::string name) {
  if (!enabled()) return;
  Recorder& r = recorder();
  const std::lock_guard lock(r.mu);
  Span s;
  s.name = std::move(name);
  s.thread = thread_locked(r);
  s.begin_ns = now_ns(r);
  slot_ = handle_of(r, r.session.spans.size());
  r.session.spans.push_back(std::move(s));
}

SpanScope::~SpanScope() {
  if (slot_ < 0) return;
  Recorder& r = recorder();
  const std::lock_guard lock(r.mu);
  const int64_t index = index_of(r, slot_, r.session.spans.size());
  if (index >= 0) r.session.spans[static_cast<size_t>(index)].end_ns = now_ns(r);
}

double bytes_of(const Tensor& t) {
  return t.defined() ? static_cast<double>(t.numel()) * static_cast<double>(dtype_size(t.dtype())) : 0.0;
}

double bytes_of_shape(const std::vector<int64_t>& shape, const Tensor& like) {
  double n = 1;
  for (const int64_t s : shape) n *= static_cast<double>(s);
  return n * static_cast<double>(dtype_size(like.dtype()));
}

Cost elementwise_cost(std::initializer_list<const Tensor*> inputs, const Tensor& out_like, double flops_per_element) {
  Cost c;
  for (const Tensor* t : inputs)
    if (t != nullptr) c.bytes += bytes_of(*t);
  c.bytes += bytes_of(out_like);
  c.flops = flops_per_element * static_cast<double>(out_like.defined() ? out_like.numel() : 0);
  return c;
}

}  // namespace wb::profile
