#include <unistd.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "kernels/optim.h"
#include "nn/lr_schedule.h"
#include "nn/optimizer.h"
#include "tests/util.h"

using namespace wb;

namespace {

enum class Kind { Sgd, Adam, AdamW };

struct OptimCase {
  std::string name;
  Kind kind;
  nn::SgdOptions sgd;
  nn::AdamOptions adam;
};

// Must match CASES in tests/reference/gen_optim.py.
const std::vector<OptimCase> kOptimCases = {
    {"sgd", Kind::Sgd, {.lr = 0.1}, {}},
    {"sgd_wd", Kind::Sgd, {.lr = 0.1, .weight_decay = 0.1}, {}},
    {"sgd_momentum", Kind::Sgd, {.lr = 0.1, .momentum = 0.9}, {}},
    {"sgd_dampening", Kind::Sgd, {.lr = 0.1, .momentum = 0.9, .dampening = 0.3, .weight_decay = 0.01}, {}},
    {"sgd_nesterov", Kind::Sgd, {.lr = 0.1, .momentum = 0.8, .weight_decay = 0.05, .nesterov = true}, {}},
    {"adam", Kind::Adam, {}, {.lr = 0.01}},
    {"adam_wd", Kind::Adam, {}, {.lr = 0.01, .beta1 = 0.8, .beta2 = 0.99, .eps = 1e-6, .weight_decay = 0.1}},
    {"adamw", Kind::AdamW, {}, {.lr = 0.01, .weight_decay = 0.1}},
};

const OptimCase& find_case(const std::string& name) {
  for (const OptimCase& c : kOptimCases) {
    if (c.name == name) return c;
  }
  fail("test_optim: no case ", name);
}

std::unique_ptr<nn::Optimizer> make_optimizer(const OptimCase& c, const std::vector<Tensor>& params) {
  switch (c.kind) {
    case Kind::Sgd:
      return std::make_unique<nn::SGD>(params, c.sgd);
    case Kind::Adam:
      return std::make_unique<nn::Adam>(params, c.adam);
    case Kind::AdamW:
      return std::make_unique<nn::AdamW>(params, c.adam);
  }
  fail("test_optim: unknown optimizer kind");
}

double base_lr(const OptimCase& c) { return c.kind == Kind::Sgd ? c.sgd.lr : c.adam.lr; }

std::vector<Tensor> leaf_copies(const std::vector<Tensor>& ts) {
  std::vector<Tensor> out;
  for (const Tensor& t : ts) out.push_back(t.detach().clone().set_requires_grad(true));
  return out;
}

}  // namespace

TEST_CASE("PyTorch parity: SGD, Adam and AdamW over steps with a missing grad and a changing lr") {
  SafetensorsFile f;
  if (!test::load_reference("optim", f)) return;
  const std::vector<double> lr_factors = test::ref(f, "lr_factors").to_double_vector();
  const size_t n_params = 3;
  std::vector<Tensor> initial;
  for (size_t i = 0; i < n_params; ++i) initial.push_back(test::ref(f, "param." + std::to_string(i)));

  for (const OptimCase& c : kOptimCases) {
    CAPTURE(c.name);
    std::vector<Tensor> params = leaf_copies(initial);
    auto opt = make_optimizer(c, params);
    for (size_t k = 0; k < lr_factors.size(); ++k) {
      CAPTURE(k);
      opt->zero_grad();
      for (size_t i = 0; i < n_params; ++i) {
        const std::string key = "grad." + std::to_string(k) + "." + std::to_string(i);
        if (f.tensors.count(key)) params[i].set_grad(test::ref(f, key).clone());
      }
      opt->set_lr(base_lr(c) * lr_factors[k]);
      opt->step();
      for (size_t i = 0; i < n_params; ++i) {
        CAPTURE(i);
        WB_CHECK_CLOSE(params[i], test::ref(f, c.name + ".param." + std::to_string(k) + "." + std::to_string(i)), 1e-12,
                       1e-12);
      }
    }
    CHECK(opt->step_count() == static_cast<int64_t>(lr_factors.size()));
    // Every state tensor PyTorch keeps is in our state_dict under the same name, with its value.
    const TensorMap sd = opt->state_dict();
    const std::string prefix = c.name + ".state.";
    int compared = 0;
    for (const auto& [key, expected] : f.tensors) {
      if (!key.starts_with(prefix)) continue;
      const std::string ours = key.substr(c.name.size() + 1);
      CAPTURE(ours);
      REQUIRE(sd.count(ours) == 1);
      WB_CHECK_CLOSE(sd.at(ours), expected, 1e-12, 1e-12);
      ++compared;
    }
    CHECK((compared > 0) == (c.kind != Kind::Sgd || c.sgd.momentum != 0.0));
  }
}

TEST_CASE("PyTorch parity: warm-up with multi-step decay, and cosine annealing") {
  SafetensorsFile f;
  if (!test::load_reference("optim", f)) return;
  const auto ipe = static_cast<int64_t>(test::ref(f, "sched.iters_per_epoch").item());
  const auto epochs = static_cast<int64_t>(test::ref(f, "sched.epochs").item());
  auto check_trace = [&](const nn::LrSchedule& s, const std::string& key) {
    CAPTURE(key);
    std::vector<double> ours;
    for (int64_t e = 0; e < epochs; ++e) {
      for (int64_t i = 0; i < ipe; ++i) ours.push_back(s.lr_at(e, i, ipe));
    }
    const Tensor expected = test::ref(f, key);
    WB_CHECK_CLOSE(Tensor::from_vector(ours, {static_cast<int64_t>(ours.size())}, DType::F64), expected, 0.0, 1e-12);
  };

  nn::LrSchedule multistep;
  multistep.base_lr = 5e-4;
  multistep.milestones = {1, 4};
  multistep.gamma = 0.1;
  multistep.warmup_iters = 10;
  multistep.warmup_start_factor = 0.001;
  check_trace(multistep, "sched.multistep_warmup");

  nn::LrSchedule cosine;
  cosine.base_lr = 1e-3;
  cosine.decay = nn::LrDecay::Cosine;
  cosine.cosine_epochs = 5;
  cosine.eta_min = 1e-5;
  check_trace(cosine, "sched.cosine");

  nn::LrSchedule cosine_iter;
  cosine_iter.base_lr = 2e-3;
  cosine_iter.decay = nn::LrDecay::Cosine;
  cosine_iter.cosine_epochs = epochs;
  cosine_iter.cosine_by_iter = true;
  cosine_iter.warmup_iters = 12;
  cosine_iter.warmup_start_factor = 0.01;
  check_trace(cosine_iter, "sched.cosine_iter_warmup");
}

TEST_CASE("LR schedule: MMPose's HRNet schedule at its landmarks") {
  // param_scheduler = [LinearLR(start_factor=0.001, begin=0, end=500, by_epoch=False),
  //                    MultiStepLR(milestones=[170, 200], gamma=0.1)], Adam lr 5e-4.
  nn::LrSchedule s;
  s.base_lr = 5e-4;
  s.milestones = {170, 200};
  s.warmup_iters = 500;
  const int64_t ipe = 1000;
  CHECK(s.lr_at(0, 0, ipe) == doctest::Approx(5e-7).epsilon(1e-12));
  CHECK(s.lr_at(0, 498, ipe) < 5e-4);
  CHECK(s.lr_at(0, 499, ipe) == doctest::Approx(5e-4).epsilon(1e-12));  // mmengine: full rate at end - 1
  CHECK(s.lr_at(169, ipe - 1, ipe) == doctest::Approx(5e-4).epsilon(1e-12));
  CHECK(s.lr_at(170, 0, ipe) == doctest::Approx(5e-5).epsilon(1e-12));
  CHECK(s.lr_at(209, 0, ipe) == doctest::Approx(5e-6).epsilon(1e-12));

  nn::LrSchedule c;
  c.decay = nn::LrDecay::Cosine;
  c.cosine_epochs = 10;
  c.eta_min = 1e-6;
  CHECK(c.lr_at(5, 3, 7) == doctest::Approx((1e-3 + 1e-6) / 2).epsilon(1e-12));
  CHECK(c.lr_at(10, 0, 7) == doctest::Approx(1e-6).epsilon(1e-12));
  CHECK(c.lr_at(25, 0, 7) == doctest::Approx(1e-6).epsilon(1e-12));  // stays at eta_min after T_max
}

TEST_CASE("state_dict round trip: a resumed run equals the uninterrupted one") {
  const int steps = 5, split = 3;
  // Parameter 2 has no grad before step 3, so it has no state at the checkpoint and starts its
  // momentum / moments after the resume.
  const std::vector<Shape> shapes = {{3, 4}, {5}, {2, 2}};
  auto grad_for = [&](int k, size_t i) {
    return k < split && i == 2 ? Tensor() : test::randn64(shapes[i], 100 + 10 * k + i, false);
  };
  std::vector<Tensor> initial;
  for (size_t i = 0; i < shapes.size(); ++i) initial.push_back(test::randn64(shapes[i], 1 + i, false));
  auto run = [&](nn::Optimizer& opt, std::vector<Tensor>& params, int from, int to) {
    for (int k = from; k < to; ++k) {
      opt.zero_grad();
      for (size_t i = 0; i < params.size(); ++i) {
        const Tensor g = grad_for(k, i);
        if (g.defined()) params[i].set_grad(g);
      }
      opt.set_lr(0.05 / (1 + k));
      opt.step();
    }
  };
  const std::string path = (std::filesystem::temp_directory_path() /
                            ("wbpose_test_optim_state_" + std::to_string(::getpid()) + ".safetensors"))
                               .string();
  for (const char* name : {"sgd_dampening", "sgd_nesterov", "adam_wd", "adamw"}) {
    const OptimCase& c = find_case(name);
    CAPTURE(c.name);
    std::vector<Tensor> straight = leaf_copies(initial);
    auto opt_straight = make_optimizer(c, straight);
    run(*opt_straight, straight, 0, steps);

    std::vector<Tensor> first = leaf_copies(initial);
    auto opt_first = make_optimizer(c, first);
    run(*opt_first, first, 0, split);
    save_safetensors(path, opt_first->state_dict());
    const SafetensorsFile saved = load_safetensors(path);
    CHECK(saved.tensors.count("state.2.step") == 0);

    std::vector<Tensor> resumed = leaf_copies(first);
    auto opt_resumed = make_optimizer(c, resumed);
    opt_resumed->load_state_dict(saved.tensors);
    CHECK(opt_resumed->step_count() == split);
    run(*opt_resumed, resumed, split, steps);
    CHECK(opt_resumed->step_count() == steps);
    for (size_t i = 0; i < initial.size(); ++i) WB_CHECK_CLOSE(resumed[i], straight[i], 0.0, 0.0);
    const TensorMap a = opt_resumed->state_dict(), b = opt_straight->state_dict();
    CHECK(a.size() == b.size());
    for (const auto& [key, t] : b) {
      CAPTURE(key);
      REQUIRE(a.count(key) == 1);
      WB_CHECK_CLOSE(a.at(key), t, 0.0, 0.0);
    }
  }
  std::filesystem::remove(path);
}

TEST_CASE("f32 parameters follow the f64 run to float precision") {
  for (const char* name : {"sgd_nesterov", "adamw"}) {
    const OptimCase& c = find_case(name);
    CAPTURE(c.name);
    const Tensor p0 = test::randn64({4, 6}, 11, false);
    std::vector<Tensor> p64 = leaf_copies({p0}), p32 = {p0.to(DType::F32).set_requires_grad(true)};
    auto o64 = make_optimizer(c, p64);
    auto o32 = make_optimizer(c, p32);
    for (int k = 0; k < 3; ++k) {
      const Tensor g = test::randn64({4, 6}, 20 + k, false);
      p64[0].set_grad(g);
      p32[0].set_grad(g.to(DType::F32));
      o64->step();
      o32->step();
    }
    CHECK(p32[0].dtype() == DType::F32);
    WB_CHECK_CLOSE(p32[0], p64[0], 1e-5, 1e-5);
  }
}

TEST_CASE("optimizer kernels: bad input names the op and the shapes, and updates nothing") {
  const Tensor kept = Tensor::ones({2, 3}, DType::F64);
  std::vector<Tensor> params = {kept.clone(), Tensor::zeros({2, 3}, DType::F64)};
  std::vector<Tensor> grads = {Tensor::ones({2, 3}, DType::F64), Tensor::ones({3, 2}, DType::F64)};
  std::vector<Tensor> none;
  CHECK_THROWS_WITH_AS(kernels::sgd_step(params, grads, none, {}),
                       doctest::Contains("sgd_step: grad 1 [3, 2] f64 cpu does not match param [2, 3] f64 cpu"), Error);
  std::vector<Tensor> m = {Tensor::zeros({2, 3}, DType::F64), Tensor::zeros({2, 3}, DType::F64)};
  std::vector<Tensor> v = m;
  CHECK_THROWS_WITH_AS(kernels::adam_step(params, grads, m, v, {}),
                       doctest::Contains("adam_step: grad 1 [3, 2] f64 cpu does not match param [2, 3] f64 cpu"),
                       Error);
  // The failing entry is the second one: the first parameter must not have moved.
  WB_CHECK_CLOSE(params[0], kept, 0.0, 0.0);

  grads[1] = Tensor::ones({2, 3}, DType::F64);
  std::vector<Tensor> bad_m = {Tensor::zeros({2, 3}, DType::F64), Tensor::zeros({6}, DType::F64)};
  CHECK_THROWS_WITH_AS(kernels::adam_step(params, grads, bad_m, v, {}),
                       doctest::Contains("adam_step: exp_avg 1 [6] f64 cpu does not match param [2, 3] f64 cpu"),
                       Error);
  kernels::SgdParams momentum;
  momentum.momentum = 0.9;
  CHECK_THROWS_WITH_AS(kernels::sgd_step(params, grads, none, momentum),
                       doctest::Contains("sgd_step: 2 params but 0 momentum_bufs"), Error);
  std::vector<Tensor> one_grad = {grads[0]};
  CHECK_THROWS_WITH_AS(kernels::sgd_step(params, one_grad, none, {}),
                       doctest::Contains("sgd_step: 2 params but 1 grads"), Error);
  std::vector<Tensor> f32_grads = {grads[0], Tensor::ones({2, 3}, DType::F32)};
  CHECK_THROWS_WITH_AS(kernels::sgd_step(params, f32_grads, none, {}), doctest::Contains("sgd_step: mixed dtypes"),
                       Error);
  kernels::AdamParams step0;
  step0.step = 0;
  CHECK_THROWS_WITH_AS(kernels::adam_step(params, grads, m, v, step0), doctest::Contains("adam_step: step 0"), Error);
  WB_CHECK_CLOSE(params[0], kept, 0.0, 0.0);
}

TEST_CASE("optimizers: bad parameters, options and checkpoints are reported by name") {
  const Tensor plain = Tensor::zeros({2}, DType::F64);
  CHECK_THROWS_WITH_AS(nn::SGD({plain}, {}), doctest::Contains("SGD: parameter 0 [2] f64 cpu must be a leaf"), Error);
  CHECK_THROWS_WITH_AS(nn::Adam({}, {}), doctest::Contains("Adam: the parameter list is empty"), Error);
  const Tensor w = test::randn64({2, 3}, 1);
  CHECK_THROWS_WITH_AS(nn::AdamW({w, w}, {}), doctest::Contains("AdamW: parameters 0 [2, 3] f64 cpu and 1"), Error);
  CHECK_THROWS_WITH_AS(nn::SGD({w}, {.nesterov = true}), doctest::Contains("SGD: Nesterov"), Error);
  CHECK_THROWS_WITH_AS(nn::Adam({w}, {.beta1 = 1.0}), doctest::Contains("Adam: beta1 = 1"), Error);
  nn::SGD sgd({w}, {});
  CHECK_THROWS_WITH_AS(sgd.set_lr(-1.0), doctest::Contains("SGD: lr = -1"), Error);

  std::vector<Tensor> params = {test::randn64({2, 3}, 2), test::randn64({4}, 3)};
  nn::Adam adam(params, {});
  params[0].set_grad(test::randn64({2, 3}, 4, false));
  params[1].set_grad(test::randn64({4}, 5, false));
  adam.step();
  const TensorMap good = adam.state_dict();
  const Tensor m0 = good.at("state.0.exp_avg").clone();
  auto load_with = [&](const std::string& key, const Tensor& t) {
    TensorMap sd = good;
    if (t.defined()) {
      sd[key] = t;
    } else {
      sd.erase(key);
    }
    adam.load_state_dict(sd);
  };
  CHECK_THROWS_WITH_AS(load_with("state.1.exp_avg", Tensor::zeros({5}, DType::F64)),
                       doctest::Contains("Adam: state entry 'state.1.exp_avg' [5] f64 cpu does not match parameter 1 "
                                         "[4] f64 cpu"),
                       Error);
  CHECK_THROWS_WITH_AS(load_with("state.0.momentum_buffer", Tensor::zeros({2, 3}, DType::F64)),
                       doctest::Contains("Adam: unknown state entry 'state.0.momentum_buffer'"), Error);
  CHECK_THROWS_WITH_AS(load_with("state.7.exp_avg", Tensor::zeros({4}, DType::F64)),
                       doctest::Contains("'state.7.exp_avg' is for parameter 7 but there are 2 parameters"), Error);
  CHECK_THROWS_WITH_AS(load_with("state.01.exp_avg", Tensor::zeros({4}, DType::F64)),
                       doctest::Contains("unknown state entry 'state.01.exp_avg'"), Error);
  CHECK_THROWS_WITH_AS(load_with("state.0.exp_avg_sq", Tensor()),
                       doctest::Contains("Adam: state entry 'state.0.exp_avg_sq' is missing"), Error);
  CHECK_THROWS_WITH_AS(load_with("state.1.step", Tensor()), doctest::Contains("state entry 'state.1.step' is missing"),
                       Error);
  CHECK_THROWS_WITH_AS(load_with("step", Tensor::full({}, 1.5, DType::F64)),
                       doctest::Contains("state entry 'step' = 1.5 is not a whole number"), Error);
  // A rejected checkpoint leaves the state as it was.
  CHECK(adam.step_count() == 1);
  WB_CHECK_CLOSE(adam.state_dict().at("state.0.exp_avg"), m0, 0.0, 0.0);
}

TEST_CASE("LR schedule: bad settings are reported by field") {
  nn::LrSchedule s;
  s.milestones = {4, 2};
  CHECK_THROWS_WITH_AS(s.lr_at(0, 0, 10), doctest::Contains("LrSchedule: milestones must be strictly increasing"),
                       Error);
  s.milestones = {2};
  s.warmup_iters = 1;
  CHECK_THROWS_WITH_AS(s.lr_at(0, 0, 10), doctest::Contains("warmup_iters = 1"), Error);
  s.warmup_iters = 0;
  CHECK_THROWS_WITH_AS(s.lr_at(0, 10, 10), doctest::Contains("iteration 10 is outside [0, 10)"), Error);
  s.decay = nn::LrDecay::Cosine;
  s.cosine_epochs = 0;
  CHECK_THROWS_WITH_AS(s.lr_at(0, 0, 10), doctest::Contains("cosine_epochs = 0"), Error);
}
