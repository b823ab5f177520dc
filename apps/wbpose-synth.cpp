// wbpose-synth: writes a synthetic COCO-WholeBody set (images, annotations, detector-like person
// boxes, optionally a preview sheet) from a seed; see datasets/synth/dataset.h.
#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <iostream>

#include "datasets/synth/dataset.h"
#include "datasets/synth/scene.h"
#include "tensor/error.h"

namespace {

// "640x480" -> {640, 480}.
std::pair<int, int> parse_size(const std::string& s) {
  int w = 0, h = 0;
  char tail = 0;
  if (std::sscanf(s.c_str(), "%dx%d%c", &w, &h, &tail) != 2 || w < 32 || h < 32 || w > 8192 || h > 8192) {
    wb::fail("--size: expected WxH between 32x32 and 8192x8192 (e.g. 640x480), got \"", s, "\"");
  }
  return {w, h};
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"wbpose-synth: a synthetic COCO-WholeBody set (images, annotations, detector boxes)"};
  wb::data::synth::DatasetOptions opt;
  std::string size = "640x480", difficulty = "normal";
  app.add_option("--out", opt.out, "output folder (created; a folder that exists must be empty)")->required();
  app.add_option("--train", opt.train, "training images")->capture_default_str();
  app.add_option("--val", opt.val, "validation images")->capture_default_str();
  app.add_option("--seed", opt.seed, "random seed: the same seed gives the same bytes")->capture_default_str();
  app.add_option("--size", size, "image size WxH")->capture_default_str();
  app.add_option("--difficulty", difficulty, "easy | normal | hard")->capture_default_str();
  app.add_option("--jpeg-quality", opt.jpeg_quality, "JPEG quality 1-100")->capture_default_str();
  app.add_flag("--preview", opt.preview, "also write DIR/preview.png, a sheet of val images with annotations drawn");
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::cerr << "wbpose-synth: " << e.what() << "\n";
    return 2;
  }

  bool line_open = false;  // a progress line without its newline yet
  try {
    std::tie(opt.width, opt.height) = parse_size(size);
    opt.difficulty = wb::data::synth::parse_difficulty(difficulty);
    wb::check(opt.jpeg_quality >= 1 && opt.jpeg_quality <= 100, "--jpeg-quality: expected 1-100, got ",
              opt.jpeg_quality);
    const auto t0 = std::chrono::steady_clock::now();
    auto seconds = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(); };
    double last = -1;
    const auto summary = wb::data::synth::generate_dataset(opt, [&](int done, int total) {
      const double t = seconds();
      if (done < total && t - last < 0.5) return;
      last = t;
      const double rate = done / std::max(t, 1e-9);
      std::fprintf(stderr, "\rwbpose-synth: %d/%d images, %.0f images/s, ETA %.0f s  ", done, total, rate,
                   (total - done) / rate);
      line_open = done < total;
      if (!line_open) std::fprintf(stderr, "\n");
    });
    std::printf("%s: %lld images (%d train, %d val, %dx%d, %s), %lld people, %lld faces and %lld hands annotated, "
                "%lld detector boxes, %.1f s\n",
                opt.out.c_str(), static_cast<long long>(summary.images), opt.train, opt.val, opt.width, opt.height,
                difficulty.c_str(), static_cast<long long>(summary.people), static_cast<long long>(summary.face_valid),
                static_cast<long long>(summary.hand_valid), static_cast<long long>(summary.boxes), seconds());
  } catch (const std::exception& e) {
    std::cerr << (line_open ? "\n" : "") << "wbpose-synth: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
