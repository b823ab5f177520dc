#include <cstdio>
#include <fstream>

#include "tensor/atomic_file.h"
#include "tensor/cuda_runtime.h"
#include "tensor/generator.h"
#include "tensor/safetensors.h"
#include "tests/util.h"

using namespace wb;

TEST_CASE("views share storage and index correctly") {
  Tensor t = Tensor::arange(24).view({2, 3, 4});
  CHECK(t.is_contiguous());
  Tensor p = t.permute({2, 0, 1});
  CHECK(p.shape() == Shape{4, 2, 3});
  CHECK_FALSE(p.is_contiguous());
  CHECK(p.same_storage(t));
  Tensor c = p.contiguous();
  CHECK(c.is_contiguous());
  // element (k, i, j) of p is t[i, j, k] = i*12 + j*4 + k
  CHECK(c.to_double_vector()[1 * 6 + 1 * 3 + 2] == 1 * 12 + 2 * 4 + 1);
  Tensor n = t.narrow(2, 1, 2);
  CHECK(n.shape() == Shape{2, 3, 2});
  CHECK(n.contiguous().to_double_vector()[0] == 1);
  Tensor s = t.slice(2, 0, 4, 2);
  CHECK(s.contiguous().to_double_vector() == std::vector<double>{0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22});
  CHECK(t.select(1, 2).contiguous().to_double_vector()[0] == 8);
  Tensor e = Tensor::arange(3).view({3, 1}).expand({3, 4});
  CHECK(e.contiguous().to_double_vector()[5] == 1);
  CHECK(t.view({6, -1}).shape() == Shape{6, 4});
  CHECK(t.unsqueeze(0).shape() == Shape{1, 2, 3, 4});
  CHECK(t.unsqueeze(0).squeeze(0).shape() == Shape{2, 3, 4});
}

TEST_CASE("view refuses incompatible strides, reshape copies") {
  Tensor t = Tensor::arange(12).view({3, 4}).transpose(0, 1);
  CHECK_THROWS_AS(t.view({12}), Error);
  Tensor r = t.reshape({12});
  CHECK(r.to_double_vector()[1] == 4);
}

TEST_CASE("bad views name the shapes") {
  Tensor t = Tensor::zeros({2, 3});
  CHECK_THROWS_WITH_AS(t.view({4, 2}), doctest::Contains("[4, 2]"), Error);
  CHECK_THROWS_WITH_AS(t.narrow(1, 2, 2), doctest::Contains("[2, 3]"), Error);
  CHECK_THROWS_AS(t.permute({0, 0}), Error);
  CHECK_THROWS_AS(t.data<double>(), Error);
}

TEST_CASE("dtype conversion and half precision round trip") {
  Tensor t = Tensor::from_vector(std::vector<double>{1.5, -2.25, 65504.0, 1e-7}, {4}, DType::F64);
  CHECK(t.to(DType::F16).to(DType::F64).to_double_vector()[1] == -2.25);
  CHECK(t.to(DType::F16).to(DType::F64).to_double_vector()[2] == 65504.0);
  CHECK(t.to(DType::BF16).to(DType::F32).to_double_vector()[0] == 1.5);
  CHECK(t.to(DType::I64).to_double_vector()[1] == -2.0);
  CHECK(half_to_float(float_to_half(0.1f)) == doctest::Approx(0.1).epsilon(1e-3));
}

TEST_CASE("generator is reproducible and restorable") {
  Generator a(7), b(7);
  CHECK(Tensor::randn({5}, a).to_double_vector() == Tensor::randn({5}, b).to_double_vector());
  const std::string st = a.state();
  const double next = a.normal();
  a.set_state(st);
  CHECK(a.normal() == next);
  CHECK_THROWS_AS(a.set_state("garbage"), Error);
}

TEST_CASE("safetensors round trip and rejection of bad files") {
  const std::string path = "test_tensor_rt.safetensors";
  Generator g(3);
  TensorMap m{{"w", Tensor::randn({2, 3}, g)},
              {"d", Tensor::randn({4}, g, DType::F64)},
              {"i", Tensor::arange(5, DType::I64)},
              {"h", Tensor::randn({3}, g).to(DType::F16)},
              {"b", Tensor::randn({3}, g).to(DType::BF16)},
              {"v", Tensor::arange(12).view({3, 4}).transpose(0, 1)}};
  save_safetensors(path, m, {{"format", "pt"}});
  SafetensorsFile f = load_safetensors(path);
  CHECK(f.metadata.at("format") == "pt");
  for (const auto& [name, t] : m) WB_CHECK_CLOSE(f.tensors.at(name), t, 0, 0);
  CHECK_THROWS_WITH_AS(expect_tensor(f, path, "w", {3, 2}), doctest::Contains("'w'"), Error);
  CHECK_THROWS_WITH_AS(expect_tensor(f, path, "zz"), doctest::Contains("no tensor 'zz'"), Error);

  const std::string bytes = read_file(path);
  {
    std::ofstream o("test_tensor_trunc.safetensors", std::ios::binary);
    o.write(bytes.data(), static_cast<std::streamsize>(bytes.size() - 5));
  }
  CHECK_THROWS_WITH_AS(load_safetensors("test_tensor_trunc.safetensors"), doctest::Contains("test_tensor_trunc"), Error);
  {
    std::string bad = bytes;
    bad[9] = '!';  // corrupt the JSON header
    std::ofstream o("test_tensor_bad.safetensors", std::ios::binary);
    o.write(bad.data(), static_cast<std::streamsize>(bad.size()));
  }
  CHECK_THROWS_WITH_AS(load_safetensors("test_tensor_bad.safetensors"), doctest::Contains("malformed header"), Error);
  CHECK_THROWS_AS(load_safetensors("does_not_exist.safetensors"), Error);
  std::remove(path.c_str());
  std::remove("test_tensor_trunc.safetensors");
  std::remove("test_tensor_bad.safetensors");
}

// Hand-made files for the format's rules that a writer of our own never breaks (issue: a shifted
// data section loaded every later tensor from wrong bytes; a shape of 2^62 x 3072 elements wrapped
// to 0 bytes, passed, and crashed the program later).
TEST_CASE("safetensors: the tensors tile the data section exactly, and sizes may not overflow") {
  const std::string path = "test_tensor_hand.safetensors";
  const auto load_with = [&](const std::string& header, size_t data_bytes) {
    std::string h = header;
    while (h.size() % 8) h.push_back(' ');
    std::string out(8, '\0');
    for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((h.size() >> (8 * i)) & 0xff);
    out += h + std::string(data_bytes, '\0');
    write_file_atomic(path, out);
    return test::error_of([&] { load_safetensors(path); });
  };
  const std::string a = R"("a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]})";
  CHECK(load_with("{" + a + R"(, "b": {"dtype": "F32", "shape": [1], "data_offsets": [8, 12]}})", 12).empty());
  CHECK(load_with("{" + a + R"(, "b": {"dtype": "F32", "shape": [1], "data_offsets": [12, 16]}})", 16)
            .find("4 bytes at data offset 8 belong to no tensor") != std::string::npos);
  CHECK(load_with("{" + a + "}", 9).find("trailing bytes") != std::string::npos);
  CHECK(load_with("{" + a + R"(, "b": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}})", 8)
            .find("overlapping") != std::string::npos);
  CHECK(load_with("{" + a + R"(, "e": {"dtype": "F32", "shape": [0], "data_offsets": [8, 8]}})", 8).empty());
  const std::string huge =
      load_with(R"({"x": {"dtype": "F32", "shape": [4611686018427387904, 3, 32, 32], "data_offsets": [0, 0]}})", 0);
  CHECK(huge.find("'x'") != std::string::npos);
  CHECK(huge.find("more elements than int64") != std::string::npos);
  CHECK(load_with(R"({"x": {"dtype": "F64", "shape": [2305843009213693952], "data_offsets": [0, 0]}})", 0)
            .find("more bytes than a file can hold") != std::string::npos);
  CHECK_THROWS_WITH_AS(numel_of({int64_t{1} << 40, int64_t{1} << 40}), doctest::Contains("int64"), Error);
  std::remove(path.c_str());
}

TEST_CASE("pinned host tensors are ordinary CPU tensors to their users") {
  Tensor t = Tensor::empty_pinned({2, 3});
  CHECK(t.device().is_cpu());
  // Page-locked only where a CUDA device can use it; plain host memory otherwise.
  CHECK(t.is_pinned() == cuda::available());
  t.fill_(2.5);
  CHECK(t.to_double_vector() == std::vector<double>(6, 2.5));
  CHECK(Tensor::empty_pinned({0}).numel() == 0);
}
