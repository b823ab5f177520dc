// Fuzz target: the training-checkpoint reader, load_checkpoint (nn/checkpoint.h), against a small
// fixed model (conv + batch norm) and Adam.
//
// Input: the checkpoint JSON, optionally followed by the line "--wbpose-fuzz-tensors--" and the
// bytes of a safetensors file. load_checkpoint reads <scratch>/in.json (the JSON) and the tensors
// file it names: <scratch>/in.safetensors holds the bytes after the separator (when present), and
// <scratch>/in.e1-i1.safetensors a matching valid file saved at start-up, so a JSON naming it fuzzes
// the JSON side alone.
// Property (checkpoint.h): a load that fails changes nothing: model, optimizer and generator are as
// they were.
// Seeds (WBPOSE_FUZZ_WRITE_SEEDS): the JSON of a real save_checkpoint naming the valid file, and the
// same JSON naming in.safetensors followed by the valid file's bytes.
//
// fuzz-instrument: nn/checkpoint.cpp tensor/safetensors.cpp tensor/generator.cpp nn/optimizer.cpp
#include "autograd/engine.h"
#include "autograd/ops_basic.h"
#include "fuzz/common.h"
#include "nn/checkpoint.h"
#include "nn/layers.h"
#include "tensor/atomic_file.h"

using namespace wb;

namespace {

constexpr std::string_view kSeparator = "\n--wbpose-fuzz-tensors--\n";

struct Fixture {
  std::shared_ptr<nn::Sequential> model = std::make_shared<nn::Sequential>();
  std::unique_ptr<nn::Adam> optimizer;
  Generator rng{11};
  Fixture() {
    model->push_back(std::make_shared<nn::Conv2d>(nn::Conv2dOptions{.in_channels = 2, .out_channels = 3}));
    model->push_back(std::make_shared<nn::BatchNorm2d>(3));
    optimizer = std::make_unique<nn::Adam>(model->parameters(), nn::AdamOptions{});
  }
};

constexpr const char* kValidTensors = "in.e1-i1.safetensors";  // a name every version accepts for "in"
constexpr const char* kFuzzedTensors = "in.safetensors";

// A checkpoint with optimizer state in it (one Adam step on random data), saved as <scratch>/in with
// its tensors at kValidTensors. Returns the JSON.
std::string save_valid_checkpoint() {
  const fuzz::Scratch& s = fuzz::Scratch::get();
  Fixture f;
  Generator init(3);
  f.model->reset_parameters(init);
  const Tensor y = (*f.model)(Tensor::randn({2, 2, 3, 3}, f.rng));
  f.optimizer->zero_grad();
  autograd::backward(ops::mean(ops::mul(y, y)));
  f.optimizer->step();
  nn::save_checkpoint(s.file("in"), *f.model, *f.optimizer, f.rng, nn::TrainProgress{1, 1});
  std::string json = read_file(s.file("in.json"));
  // Earlier builds name the tensors "in.safetensors", the fuzzed file here: move them.
  const std::string key = "\"tensors\": \"";
  const size_t at = json.find(key) + key.size(), end = json.find('"', at);
  const std::string named = json.substr(at, end - at);
  if (named != kValidTensors) {
    std::filesystem::rename(s.file(named), s.file(kValidTensors));
    json.replace(at, end - at, kValidTensors);
  }
  return json;
}

std::vector<double> flat(const TensorMap& m) {
  std::vector<double> out;
  for (const auto& [name, t] : m) {
    out.push_back(static_cast<double>(name.size()));
    for (double v : t.to_double_vector()) out.push_back(v);
  }
  return out;
}

std::vector<double> flat(const nn::NamedTensors& m) {
  std::vector<double> out;
  for (const auto& [name, t] : m)
    for (double v : t.to_double_vector()) out.push_back(v);
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  const std::string json = save_valid_checkpoint();
  if (fuzz::seed_dir()) {
    fuzz::write_seed("valid.json", json);
    std::string other = json;
    other.replace(other.find(kValidTensors), std::string_view(kValidTensors).size(), kFuzzedTensors);
    fuzz::write_seed("with_tensors.bin",
                     other + std::string(kSeparator) + read_file(fuzz::Scratch::get().file(kValidTensors)));
    std::exit(0);
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const fuzz::Scratch& s = fuzz::Scratch::get();
  const std::string_view input = fuzz::as_text(data, size);
  const size_t sep = input.find(kSeparator);
  fuzz::write_bytes(s.file("in.json"), input.substr(0, sep));
  if (sep != std::string_view::npos) {
    fuzz::write_bytes(s.file(kFuzzedTensors), input.substr(sep + kSeparator.size()));
  } else {
    std::remove(s.file(kFuzzedTensors).c_str());
  }

  Fixture f;
  const std::vector<double> model_before = flat(f.model->state_dict());
  const std::vector<double> optimizer_before = flat(f.optimizer->state_dict());
  const std::string rng_before = f.rng.state();
  nn::TrainProgress at;
  if (fuzz::expect_clean_errors([&] { at = nn::load_checkpoint(s.file("in"), *f.model, *f.optimizer, f.rng); })) {
    fuzz::require(at.epoch >= 0 && at.iteration >= 0, "load_checkpoint returned a negative progress");
    return 0;
  }
  fuzz::require(flat(f.model->state_dict()) == model_before, "a failed load_checkpoint changed the model");
  fuzz::require(flat(f.optimizer->state_dict()) == optimizer_before, "a failed load_checkpoint changed the optimizer");
  fuzz::require(f.rng.state() == rng_before, "a failed load_checkpoint changed the generator");
  return 0;
}
