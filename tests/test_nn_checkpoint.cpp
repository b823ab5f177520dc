// Checkpoint save/resume: a resumed run continues bit for bit, and damaged or mismatched files are
// rejected with errors naming the file and the entry, leaving the model untouched.
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "autograd/engine.h"
#include "autograd/ops_basic.h"
#include "nn/checkpoint.h"
#include "nn/layers.h"
#include "nn/lr_schedule.h"
#include "tensor/atomic_file.h"
#include "tests/util.h"

using namespace wb;
namespace fs = std::filesystem;

namespace {

std::shared_ptr<nn::Sequential> small_model(uint64_t seed) {
  auto m = std::make_shared<nn::Sequential>();
  m->push_back(
      std::make_shared<nn::Conv2d>(nn::Conv2dOptions{.in_channels = 2, .out_channels = 4, .kernel = 3, .padding = 1}));
  m->push_back(std::make_shared<nn::BatchNorm2d>(4));
  m->push_back(std::make_shared<nn::ReLU>());
  m->push_back(std::make_shared<nn::Conv2d>(nn::Conv2dOptions{.in_channels = 4, .out_channels = 1}));
  Generator gen(seed);
  m->reset_parameters(gen);
  return m;
}

nn::LrSchedule schedule() {
  nn::LrSchedule s;
  s.base_lr = 0.05;
  s.milestones = {1};
  s.warmup_iters = 3;
  return s;
}

// One epoch of `iters` steps on data drawn from `rng` (so the generator's state matters).
void train_epoch(nn::Module& m, nn::Optimizer& opt, Generator& rng, nn::TrainProgress& at, int64_t iters) {
  const nn::LrSchedule s = schedule();
  for (int64_t i = 0; i < iters; ++i) {
    const Tensor x = Tensor::randn({3, 2, 5, 4}, rng);
    const Tensor target = Tensor::randn({3, 1, 5, 4}, rng);
    const Tensor diff = ops::sub(m(x), target);
    opt.set_lr(s.lr_at(at.epoch, i, iters));
    opt.zero_grad();
    autograd::backward(ops::mean(ops::mul(diff, diff)));
    opt.step();
    ++at.iteration;
  }
  ++at.epoch;
}

std::vector<double> flat_state(const nn::Module& m) {
  std::vector<double> out;
  for (const auto& [_, t] : m.state_dict())
    for (double v : t.to_double_vector()) out.push_back(v);
  return out;
}

struct TempDir {
  fs::path path = fs::temp_directory_path() / ("wbpose_nn_ckpt_" + std::to_string(::getpid()));
  TempDir() { fs::create_directories(path); }
  ~TempDir() { fs::remove_all(path); }
  std::string operator/(const std::string& name) const { return (path / name).string(); }
};

}  // namespace

TEST_CASE("checkpoint: a resumed run continues exactly as the uninterrupted one") {
  TempDir dir;
  const int64_t iters = 4;
  for (bool adam : {false, true}) {
    CAPTURE(adam);
    auto make_opt = [&](nn::Module& m) -> std::unique_ptr<nn::Optimizer> {
      if (adam) return std::make_unique<nn::AdamW>(m.parameters(), nn::AdamOptions{.weight_decay = 0.01});
      return std::make_unique<nn::SGD>(m.parameters(), nn::SgdOptions{.momentum = 0.9, .nesterov = true});
    };
    // Uninterrupted: three epochs.
    auto a = small_model(1);
    auto opt_a = make_opt(*a);
    Generator rng_a(7);
    nn::TrainProgress at_a;
    train_epoch(*a, *opt_a, rng_a, at_a, iters);
    nn::save_checkpoint(dir / "ckpt", *a, *opt_a, rng_a, at_a);
    train_epoch(*a, *opt_a, rng_a, at_a, iters);
    train_epoch(*a, *opt_a, rng_a, at_a, iters);

    // Resumed: a different start, then the checkpoint, then the last two epochs.
    auto b = small_model(99);
    auto opt_b = make_opt(*b);
    Generator rng_b(12345);
    nn::TrainProgress at_b = nn::load_checkpoint(dir / "ckpt", *b, *opt_b, rng_b);
    CHECK(at_b.epoch == 1);
    CHECK(at_b.iteration == iters);
    CHECK(opt_b->step_count() == iters);
    train_epoch(*b, *opt_b, rng_b, at_b, iters);
    train_epoch(*b, *opt_b, rng_b, at_b, iters);

    CHECK(flat_state(*a) == flat_state(*b));  // parameters and BN buffers, exactly
    CHECK(rng_a.next_u64() == rng_b.next_u64());
    CHECK(at_a.iteration == at_b.iteration);
  }
}

TEST_CASE("checkpoint: damaged or mismatched files are rejected, naming the file and entry, changing nothing") {
  TempDir dir;
  auto m = small_model(1);
  nn::SGD opt(m->parameters(), nn::SgdOptions{.momentum = 0.9});
  Generator rng(3);
  nn::TrainProgress at;
  train_epoch(*m, opt, rng, at, 2);
  nn::save_checkpoint(dir / "ckpt", *m, opt, rng, at);

  auto fresh = small_model(2);
  const std::vector<double> untouched = flat_state(*fresh);
  nn::SGD fresh_opt(fresh->parameters(), nn::SgdOptions{.momentum = 0.9});
  Generator fresh_rng(4);

  SUBCASE("a model of other shapes") {
    auto other = std::make_shared<nn::Sequential>();
    other->push_back(std::make_shared<nn::Conv2d>(nn::Conv2dOptions{.in_channels = 2, .out_channels = 5, .kernel = 3}));
    nn::SGD other_opt(other->parameters(), nn::SgdOptions{.momentum = 0.9});
    const std::string msg = test::error_of([&] { nn::load_checkpoint(dir / "ckpt", *other, other_opt, fresh_rng); });
    CHECK(msg.find("ckpt.e1-i2.safetensors") != std::string::npos);
    CHECK(msg.find("model.0.weight") != std::string::npos);
  }
  SUBCASE("another optimizer") {
    nn::Adam adam(fresh->parameters(), nn::AdamOptions{});
    const std::string msg = test::error_of([&] { nn::load_checkpoint(dir / "ckpt", *fresh, adam, fresh_rng); });
    CHECK(msg.find("ckpt.json") != std::string::npos);
    CHECK(msg.find("\"optimizer\"") != std::string::npos);
  }
  SUBCASE("malformed JSON") {
    write_file_atomic(dir / "ckpt.json", "{\"format\": ");
    CHECK(test::error_of([&] {
            nn::load_checkpoint(dir / "ckpt", *fresh, fresh_opt, fresh_rng);
          }).find("ckpt.json: malformed JSON") != std::string::npos);
  }
  SUBCASE("a JSON field of the wrong type") {
    std::string j = read_file(dir / "ckpt.json");
    j.replace(j.find("\"epoch\": 1"), 10, "\"epoch\": \"one\"");
    write_file_atomic(dir / "ckpt.json", j);
    CHECK(test::error_of([&] {
            nn::load_checkpoint(dir / "ckpt", *fresh, fresh_opt, fresh_rng);
          }).find("\"epoch\" has the wrong type") != std::string::npos);
  }
  SUBCASE("a fractional epoch, an iteration beyond int64") {
    const std::string good = read_file(dir / "ckpt.json");
    for (const char* bad : {"\"epoch\": 1.5", "\"epoch\": 18446744073709551615"}) {
      std::string j = good;
      j.replace(j.find("\"epoch\": 1"), 10, bad);
      write_file_atomic(dir / "ckpt.json", j);
      CHECK(test::error_of([&] {
              nn::load_checkpoint(dir / "ckpt", *fresh, fresh_opt, fresh_rng);
            }).find("\"epoch\" has the wrong type") != std::string::npos);
    }
  }
  SUBCASE("a JSON and a safetensors file from different saves") {
    const std::string old_json = read_file(dir / "ckpt.json");
    train_epoch(*m, opt, rng, at, 2);
    nn::save_checkpoint(dir / "ckpt", *m, opt, rng, at);
    fs::copy_file(dir / "ckpt.e2-i4.safetensors", dir / "ckpt.e1-i2.safetensors");
    write_file_atomic(dir / "ckpt.json", old_json);
    const std::string msg = test::error_of([&] { nn::load_checkpoint(dir / "ckpt", *fresh, fresh_opt, fresh_rng); });
    CHECK(msg.find("different saves") != std::string::npos);
    CHECK(msg.find("ckpt.e1-i2.safetensors") != std::string::npos);
  }
  SUBCASE("a \"tensors\" field naming a file that is not this checkpoint's") {
    std::string j = read_file(dir / "ckpt.json");
    j.replace(j.find("ckpt.e1-i2.safetensors"), 22, "../elsewhere.safetensors");
    write_file_atomic(dir / "ckpt.json", j);
    CHECK(test::error_of([&] {
            nn::load_checkpoint(dir / "ckpt", *fresh, fresh_opt, fresh_rng);
          }).find("field \"tensors\"") != std::string::npos);
  }
  SUBCASE("a missing file") {
    CHECK(test::error_of([&] { nn::load_checkpoint(dir / "nope", *fresh, fresh_opt, fresh_rng); }).find("nope.json") !=
          std::string::npos);
  }
  CHECK(flat_state(*fresh) == untouched);
  CHECK(fresh_opt.step_count() == 0);
}

// A save killed at any moment leaves a loadable checkpoint: the tensors go to a new file and the
// JSON's rename commits them. Here the kill falls between the two (the window a test hook also
// exposes to tests/train_cli_test.sh's SIGKILL).
TEST_CASE("checkpoint: a save interrupted before its commit leaves the previous save whole") {
  TempDir dir;
  auto m = small_model(1);
  nn::SGD opt(m->parameters(), nn::SgdOptions{.momentum = 0.9});
  Generator rng(3);
  nn::TrainProgress at;
  train_epoch(*m, opt, rng, at, 2);
  nn::save_checkpoint(dir / "ckpt", *m, opt, rng, at);
  const std::vector<double> first = flat_state(*m);
  const std::string first_json = read_file(dir / "ckpt.json");
  const std::string first_tensors = read_file(dir / "ckpt.e1-i2.safetensors");

  train_epoch(*m, opt, rng, at, 2);
  nn::save_checkpoint(dir / "ckpt", *m, opt, rng, at);
  CHECK(fs::exists(dir / "ckpt.e2-i4.safetensors"));
  CHECK_FALSE(fs::exists(dir / "ckpt.e1-i2.safetensors"));  // the committed save removed the earlier one
  // Put the disk back as a kill before the second commit would have left it.
  write_file_atomic(dir / "ckpt.e1-i2.safetensors", first_tensors);
  write_file_atomic(dir / "ckpt.json", first_json);

  auto fresh = small_model(2);
  nn::SGD fresh_opt(fresh->parameters(), nn::SgdOptions{.momentum = 0.9});
  Generator fresh_rng(4);
  const nn::TrainProgress got = nn::load_checkpoint(dir / "ckpt", *fresh, fresh_opt, fresh_rng);
  CHECK(got.epoch == 1);
  CHECK(got.iteration == 2);
  CHECK(flat_state(*fresh) == first);

  fs::create_directories(dir / "ckpt.e7-i9.safetensors.d");  // not a tensors file: left alone
  nn::remove_stale_checkpoint_files(dir / "ckpt");
  CHECK(fs::exists(dir / "ckpt.e1-i2.safetensors"));
  CHECK_FALSE(fs::exists(dir / "ckpt.e2-i4.safetensors"));
  CHECK(fs::exists(dir / "ckpt.e7-i9.safetensors.d"));
}

TEST_CASE("weights: save_weights / load_weights round trip with state_dict names") {
  TempDir dir;
  auto a = small_model(1), b = small_model(2);
  nn::save_weights(dir / "w.safetensors", *a);
  const SafetensorsFile f = load_safetensors(dir / "w.safetensors");
  CHECK(f.tensors.count("1.running_var") == 1);
  CHECK(f.tensors.at("1.num_batches_tracked").dtype() == DType::I64);
  CHECK(nn::load_weights(dir / "w.safetensors", *b).clean());
  CHECK(flat_state(*a) == flat_state(*b));

  auto bigger = small_model(3);
  bigger->push_back(std::make_shared<nn::Conv2d>(nn::Conv2dOptions{.in_channels = 1, .out_channels = 1}));
  const std::string msg = test::error_of([&] { nn::load_weights(dir / "w.safetensors", *bigger); });
  CHECK(msg.find("w.safetensors") != std::string::npos);
  CHECK(msg.find("4.weight") != std::string::npos);
  const nn::LoadResult r = nn::load_weights(dir / "w.safetensors", *bigger, /*strict=*/false);
  CHECK(r.missing == std::vector<std::string>{"4.weight", "4.bias"});
}
