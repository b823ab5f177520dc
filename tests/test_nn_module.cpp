// Module semantics (names, order, loading, modes, placement) and PyTorch parity of a nested model
// built from every layer, against tests/reference/gen_nn.py.
#include <nlohmann/json.hpp>

#include "autograd/engine.h"
#include "autograd/node.h"
#include "autograd/ops_basic.h"
#include "autograd/ops_conv.h"
#include "autograd/ops_pool.h"
#include "nn/layers.h"
#include "nn/module.h"
#include "tests/util.h"

using namespace wb;

namespace {

// The models of gen_nn.py, module for module.
class BasicBlock : public nn::Module {
 public:
  BasicBlock(int64_t cin, int64_t cout, int64_t stride) {
    conv1 = register_module(
        "conv1",
        std::make_shared<nn::Conv2d>(nn::Conv2dOptions{
            .in_channels = cin, .out_channels = cout, .kernel = 3, .stride = stride, .padding = 1, .bias = false}));
    bn1 = register_module("bn1", std::make_shared<nn::BatchNorm2d>(cout));
    conv2 = register_module("conv2",
                            std::make_shared<nn::Conv2d>(nn::Conv2dOptions{
                                .in_channels = cout, .out_channels = cout, .kernel = 3, .padding = 1, .bias = false}));
    bn2 = register_module("bn2", std::make_shared<nn::BatchNorm2d>(cout, 1e-3, 0.03));
    downsample = register_module("downsample", std::make_shared<nn::Sequential>());
    downsample->push_back(std::make_shared<nn::Conv2d>(
        nn::Conv2dOptions{.in_channels = cin, .out_channels = cout, .stride = stride, .bias = false}));
    downsample->push_back(std::make_shared<nn::BatchNorm2d>(cout));
  }
  std::string type_name() const override { return "BasicBlock"; }
  Tensor forward(const Tensor& x) override {
    const Tensor out = (*bn2)((*conv2)(bn1->forward_relu((*conv1)(x))));
    return ops::relu(ops::add(out, (*downsample)(x)));
  }
  std::shared_ptr<nn::Conv2d> conv1, conv2;
  std::shared_ptr<nn::BatchNorm2d> bn1, bn2;
  std::shared_ptr<nn::Sequential> downsample;
};

class Backbone : public nn::Module {
 public:
  Backbone() {
    conv1 = register_module("conv1", std::make_shared<nn::Conv2d>(nn::Conv2dOptions{
                                         .in_channels = 3, .out_channels = 4, .kernel = 3, .padding = 1}));
    bn1 = register_module("bn1", std::make_shared<nn::BatchNorm2d>(4));
    act = register_module("act", std::make_shared<nn::HSwish>());
    layer1 = register_module("layer1", std::make_shared<nn::Sequential>(std::vector<std::shared_ptr<nn::Module>>{
                                           std::make_shared<BasicBlock>(4, 8, 2), std::make_shared<nn::Identity>()}));
    se = register_module("se", std::make_shared<nn::SELayer>(
                                   nn::SELayerOptions{.channels = 8, .ratio = 4, .gate = nn::Activation::HSigmoid}));
    gc = register_module("gc",
                         std::make_shared<nn::ContextBlock>(nn::ContextBlockOptions{.in_channels = 8, .ratio = 0.25}));
  }
  Tensor forward(const Tensor& x) override { return (*gc)((*se)((*layer1)((*act)((*bn1)((*conv1)(x)))))); }
  std::shared_ptr<nn::Conv2d> conv1;
  std::shared_ptr<nn::BatchNorm2d> bn1;
  std::shared_ptr<nn::HSwish> act;
  std::shared_ptr<nn::Sequential> layer1;
  std::shared_ptr<nn::SELayer> se;
  std::shared_ptr<nn::ContextBlock> gc;
};

class Head : public nn::Module {
 public:
  Head() {
    deconv_layers = register_module("deconv_layers", std::make_shared<nn::Sequential>());
    deconv_layers->push_back(std::make_shared<nn::ConvTranspose2d>(nn::ConvTranspose2dOptions{
        .in_channels = 8, .out_channels = 6, .kernel = 4, .stride = 2, .padding = 1, .bias = false}));
    deconv_layers->push_back(std::make_shared<nn::BatchNorm2d>(6));
    deconv_layers->push_back(std::make_shared<nn::PReLU>(6));
    final_layer = register_module("final_layer",
                                  std::make_shared<nn::Conv2d>(nn::Conv2dOptions{.in_channels = 6, .out_channels = 5}));
    fc = register_module("fc", std::make_shared<nn::Linear>(8, 5));
    gate = register_module("gate", std::make_shared<nn::Sigmoid>());
  }
  Tensor forward(const Tensor& feats) override {
    const Tensor heat = (*final_layer)((*deconv_layers)(feats));
    const int64_t n = feats.size(0);
    const Tensor offset = (*fc)(ops::reshape(ops::global_avg_pool(feats), {n, 8}));
    return (*gate)(ops::add(heat, ops::reshape(offset, {n, 5, 1, 1})));
  }
  std::shared_ptr<nn::Sequential> deconv_layers;
  std::shared_ptr<nn::Conv2d> final_layer;
  std::shared_ptr<nn::Linear> fc;
  std::shared_ptr<nn::Sigmoid> gate;
};

class Net : public nn::Module {
 public:
  Net() {
    backbone = register_module("backbone", std::make_shared<Backbone>());
    head = register_module("head", std::make_shared<Head>());
  }
  Tensor forward(const Tensor& x) override { return (*head)((*backbone)(x)); }
  std::shared_ptr<Backbone> backbone;
  std::shared_ptr<Head> head;
};

std::vector<std::string> names_of(const nn::NamedTensors& named) {
  std::vector<std::string> out;
  for (const auto& [name, _] : named) out.push_back(name);
  return out;
}

TensorMap reference_state(const SafetensorsFile& f, const std::string& prefix) {
  const auto order = nlohmann::json::parse(f.metadata.at(prefix + ".order")).get<std::vector<std::string>>();
  TensorMap state;
  for (const auto& name : order) state.emplace(name, test::ref(f, prefix + ".state." + name));
  return state;
}

// Loads the reference state into `m`, runs the training-mode forward and backward and the
// evaluation-mode forward, and compares everything gen_nn.py saved for `prefix`.
void check_against_torch(const SafetensorsFile& f, const std::string& prefix, nn::Module& m) {
  CAPTURE(prefix);
  const auto order = nlohmann::json::parse(f.metadata.at(prefix + ".order")).get<std::vector<std::string>>();
  CHECK(names_of(m.state_dict()) == order);
  m.load_state_dict(reference_state(f, prefix));

  m.train();
  Tensor x = test::ref(f, prefix + ".x").clone();
  x.set_requires_grad(true);
  const Tensor y = m(x);
  WB_CHECK_CLOSE(y, test::ref(f, prefix + ".y"), 1e-5, 1e-4);
  autograd::backward(y, test::ref(f, prefix + ".dy"));
  WB_CHECK_CLOSE(x.grad(), test::ref(f, prefix + ".dx"), 1e-5, 1e-4);
  for (const auto& [name, p] : m.named_parameters()) {
    CAPTURE(name);
    REQUIRE(p.grad().defined());
    WB_CHECK_CLOSE(p.grad(), test::ref(f, prefix + ".grad." + name), 1e-5, 1e-4);
  }
  for (const auto& [name, b] : m.named_buffers()) {
    CAPTURE(name);
    const Tensor& expected = test::ref(f, prefix + ".after." + name);
    if (b.dtype() == DType::I64) {
      CHECK(b.item() == expected.item());
    } else {
      WB_CHECK_CLOSE(b, expected, 1e-6, 1e-5);
    }
  }

  m.eval();
  const autograd::NoGradGuard no_grad;
  WB_CHECK_CLOSE(m(x), test::ref(f, prefix + ".y_eval"), 1e-5, 1e-4);
}

}  // namespace

TEST_CASE("nn parity: nested model names, order, forward, backward and BN buffers match PyTorch") {
  SafetensorsFile f;
  if (!test::load_reference("nn", f)) return;
  Net net;
  check_against_torch(f, "net", net);
}

TEST_CASE("nn parity: SE and global-context blocks match mmcv/MMPose in PyTorch") {
  SafetensorsFile f;
  if (!test::load_reference("nn", f)) return;
  nn::SELayer se({.channels = 16, .ratio = 4, .gate = nn::Activation::Sigmoid});
  check_against_torch(f, "se", se);
  nn::SELayer se_hsig({.channels = 8, .ratio = 2, .gate = nn::Activation::HSigmoid});
  check_against_torch(f, "se_hsig", se_hsig);
  nn::ContextBlock gc({.in_channels = 16, .ratio = 0.25});
  check_against_torch(f, "gc", gc);
  nn::ContextBlock gc_avg_mul(
      {.in_channels = 8, .ratio = 0.5, .attention_pooling = false, .channel_add = true, .channel_mul = true});
  check_against_torch(f, "gc_avg_mul", gc_avg_mul);
}

TEST_CASE("nn: named_modules, parameters and buffers, with PyTorch's dotted names") {
  Net net;
  const auto mods = net.named_modules();
  REQUIRE(mods.size() > 5);
  CHECK(mods[0].first == "");
  CHECK(mods[1].first == "backbone");
  CHECK(mods[2].first == "backbone.conv1");
  const auto& block = static_cast<BasicBlock&>(*(*net.backbone->layer1)[0]);
  CHECK(&net.at("backbone.layer1.0.downsample.1") == (*block.downsample)[1].get());
  CHECK(net.at("head.deconv_layers.2").type_name() == "PReLU");
  CHECK(test::error_of([&] { net.at("backbone.nope"); }).find("nope") != std::string::npos);

  const auto buffers = names_of(net.named_buffers());
  CHECK(buffers.front() == "backbone.bn1.running_mean");
  CHECK(buffers[2] == "backbone.bn1.num_batches_tracked");
  const Tensor nbt = net.backbone->bn1->num_batches_tracked;
  CHECK(nbt.dtype() == DType::I64);
  CHECK(nbt.dim() == 0);

  // Parameters require grad and are the very tensors the layers use.
  const auto params = net.named_parameters();
  CHECK(params.front().first == "backbone.conv1.weight");
  CHECK(params.front().second.same_storage(net.backbone->conv1->weight));
  for (const auto& [name, p] : params) {
    CAPTURE(name);
    CHECK(p.requires_grad());
  }
  int64_t count = 0;
  for (const auto& [_, p] : params) count += p.numel();
  CHECK(net.num_parameters() == count);
  CHECK(net.parameters().size() == params.size());
}

TEST_CASE("nn: registration rejects empty, dotted and duplicate names") {
  struct Bad : nn::Module {
    void add(const std::string& name) { register_parameter(name, Tensor::zeros({2})); }
  } m;
  m.add("w");
  CHECK(test::error_of([&] { m.add("w"); }).find("already registered") != std::string::npos);
  CHECK(test::error_of([&] { m.add("a.b"); }).find("a.b") != std::string::npos);
  CHECK(test::error_of([&] { m.add(""); }).find("invalid name") != std::string::npos);
  CHECK(test::error_of([&] { m(Tensor::zeros({1})); }).find("forward") != std::string::npos);
}

TEST_CASE("nn: strict loading names every missing, unexpected and mis-shaped tensor and changes nothing") {
  Net net;
  TensorMap state = nn::to_tensor_map(net.state_dict());
  for (auto& [_, t] : state) t = Tensor::full(t.shape(), 0.5, t.dtype());
  state.erase("head.fc.bias");
  state["head.extra.weight"] = Tensor::zeros({3});
  state["backbone.conv1.weight"] = Tensor::zeros({4, 3, 1, 1});

  const std::string msg = test::error_of([&] { net.load_state_dict(state); });
  CHECK(msg.find("head.fc.bias") != std::string::npos);
  CHECK(msg.find("head.extra.weight") != std::string::npos);
  CHECK(msg.find("backbone.conv1.weight: given [4, 3, 1, 1] f32 vs module [4, 3, 3, 3] f32") != std::string::npos);
  // Nothing was loaded: BN weights are still 1, not the 0.5 of the map.
  CHECK(net.backbone->bn1->weight.to_double_vector() == std::vector<double>(4, 1.0));

  const nn::LoadResult r = net.load_state_dict(state, /*strict=*/false);
  CHECK(r.missing == std::vector<std::string>{"head.fc.bias"});
  CHECK(r.unexpected == std::vector<std::string>{"head.extra.weight"});
  REQUIRE(r.mismatched.size() == 1);
  CHECK(r.mismatched[0].rfind("backbone.conv1.weight", 0) == 0);
  CHECK(net.backbone->bn1->weight.to_double_vector() == std::vector<double>(4, 0.5));
  CHECK(net.backbone->conv1->weight.to_double_vector() == std::vector<double>(108, 0.0));
}

// A tensor stored as I32 where the model has F32 would load its bytes as other numbers (scores of
// 5e6 came out of such a file): integer and floating dtypes never load into each other, while
// floating widths convert (F64 references, F16 checkpoints).
TEST_CASE("nn: strict loading refuses an integer tensor for a floating one and back, converts float widths") {
  Net net;
  TensorMap state = nn::to_tensor_map(net.state_dict());
  state["head.fc.bias"] = Tensor::zeros(state.at("head.fc.bias").shape(), DType::I32);
  const std::string msg = test::error_of([&] { net.load_state_dict(state); });
  CHECK(msg.find("head.fc.bias: given [") != std::string::npos);
  CHECK(msg.find("i32 vs module") != std::string::npos);
  CHECK(net.load_state_dict(state, /*strict=*/false).mismatched.size() == 1);

  state = nn::to_tensor_map(net.state_dict());
  state["backbone.bn1.num_batches_tracked"] = Tensor::zeros({}, DType::F32);
  CHECK(test::error_of([&] { net.load_state_dict(state); }).find("backbone.bn1.num_batches_tracked") !=
        std::string::npos);

  state = nn::to_tensor_map(net.state_dict());
  state["head.fc.bias"] = Tensor::full(state.at("head.fc.bias").shape(), 0.25, DType::F64);
  CHECK(net.load_state_dict(state).clean());
  CHECK(net.head->fc->bias.to_double_vector() == std::vector<double>(net.head->fc->bias.numel(), 0.25));
}

TEST_CASE("nn: train/eval switches BatchNorm between batch and running statistics") {
  Net net;
  Generator gen(3);
  net.reset_parameters(gen);
  auto& bn = *net.backbone->bn1;
  const Tensor x = Tensor::randn({4, 4, 5, 5}, gen, DType::F32, Device::cpu(), 2.0, 3.0);

  CHECK(net.is_training());
  net.eval();
  CHECK(!bn.is_training());
  CHECK(!net.backbone->layer1->is_training());
  // Eval with the initial running stats (0, 1): y = x / sqrt(1 + eps), and no statistics move.
  const Tensor y_eval = bn(x);
  WB_CHECK_CLOSE(y_eval, x, 1e-6, 1e-5);
  CHECK(bn.num_batches_tracked.item() == 0);
  CHECK(bn.running_mean.to_double_vector() == std::vector<double>(4, 0.0));

  net.train();
  CHECK(bn.is_training());
  const Tensor y_train = bn(x);
  // Batch statistics: every channel of the output has mean 0 and (biased) variance 1.
  const std::vector<double> v = y_train.to_double_vector();
  for (int c = 0; c < 4; ++c) {
    double s = 0, s2 = 0;
    for (int n = 0; n < 4; ++n)
      for (int i = 0; i < 25; ++i) {
        const double e = v[static_cast<size_t>((n * 4 + c) * 25 + i)];
        s += e;
        s2 += e * e;
      }
    CHECK(s / 100 == doctest::Approx(0.0).epsilon(1e-5));
    CHECK(s2 / 100 == doctest::Approx(1.0).epsilon(1e-3));
  }
  CHECK(bn.num_batches_tracked.item() == 1);
  // running_mean moved from 0 by momentum 0.1 toward each channel's batch mean.
  const std::vector<double> xv = x.to_double_vector(), rm = bn.running_mean.to_double_vector();
  for (int c = 0; c < 4; ++c) {
    double s = 0;
    for (int n = 0; n < 4; ++n)
      for (int i = 0; i < 25; ++i) s += xv[static_cast<size_t>((n * 4 + c) * 25 + i)];
    CHECK(rm[static_cast<size_t>(c)] == doctest::Approx(0.1 * s / 100).epsilon(1e-5));
  }
}

TEST_CASE("nn: to(dtype) converts in place and keeps the tensors the layers and optimizers hold") {
  Net net;
  Generator gen(5);
  net.reset_parameters(gen);
  const Tensor held = net.head->fc->weight;  // e.g. an optimizer's copy of the parameter
  const std::vector<double> before = held.to_double_vector();
  net.to(DType::F64);
  CHECK(held.dtype() == DType::F64);
  CHECK(net.head->fc->weight.dtype() == DType::F64);
  CHECK(held.to_double_vector() == before);
  CHECK(held.requires_grad());
  CHECK(net.backbone->bn1->running_var.dtype() == DType::F64);
  CHECK(net.backbone->bn1->num_batches_tracked.dtype() == DType::I64);
  CHECK(test::error_of([&] { net.to(DType::I32); }).find("to(") != std::string::npos);
}

TEST_CASE("nn: Sequential names its children 0, 1, ... and chains them") {
  nn::Sequential s;
  s.push_back(std::make_shared<nn::Linear>(3, 4));
  s.push_back(std::make_shared<nn::ReLU>());
  s.push_back(std::make_shared<nn::Linear>(4, 2, false));
  CHECK(names_of(s.state_dict()) == std::vector<std::string>{"0.weight", "0.bias", "2.weight"});
  CHECK(s.size() == 3);
  CHECK(test::error_of([&] { s[3]; }).find("out of range") != std::string::npos);
  Generator gen(2);
  s.reset_parameters(gen);
  const Tensor x = Tensor::randn({5, 3}, gen);
  const auto& l0 = static_cast<nn::Linear&>(*s[0]);
  const auto& l2 = static_cast<nn::Linear&>(*s[2]);
  const Tensor expected = ops::linear(ops::relu(ops::linear(x, l0.weight, l0.bias)), l2.weight, Tensor());
  WB_CHECK_CLOSE(s(x), expected, 0.0, 0.0);
}
