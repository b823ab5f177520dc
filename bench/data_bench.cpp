#include "bench/data_bench.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <ctime>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <optional>
#include <sstream>
#include <thread>

#include "datasets/loader.h"
#include "datasets/synth/scene.h"
#include "datasets/topdown.h"
#include "kernels/cpu/isa.h"
#include "pose/keypoints.h"
#include "tensor/atomic_file.h"
#include "tensor/error.h"

namespace wb::bench {

namespace {

using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

// The generated images live here for the run and go with it, whatever happens.
struct ScratchDir {
  std::string path;
  ScratchDir() : path((fs::temp_directory_path() / ("wbpose-bench-data-" + std::to_string(::getpid()))).string()) {
    fs::create_directories(path);
  }
  ~ScratchDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

std::string fmt(double v, int prec) {
  std::ostringstream os;
  os << std::fixed << std::setprecision(prec) << v;
  return os.str();
}

// MMPose's whole-body HRNet configs: sigma 2 at 256x192, 3 at 384x288.
struct Scenario {
  const char* name;
  int input_w, input_h, heatmap_w, heatmap_h;
  double sigma;
};

// A photo-like 640x480 JPEG (COCO's typical size): smooth colour fields plus grain, so that the
// file size and the decoder's work resemble a real photo's rather than a flat test card's.
data::Image photo_like(uint64_t seed) {
  Generator gen(seed);
  data::Image img(640, 480, 3);
  const double f[3] = {gen.uniform(0.01, 0.05), gen.uniform(0.01, 0.05), gen.uniform(0.01, 0.05)};
  for (int y = 0; y < 480; ++y)
    for (int x = 0; x < 640; ++x)
      for (int c = 0; c < 3; ++c) {
        const double v = 127 + 90 * std::sin(f[c] * x + f[(c + 1) % 3] * y + c) + gen.uniform(-25, 25);
        img.at(x, y)[c] = static_cast<uint8_t>(std::clamp(v, 0.0, 255.0));
      }
  return img;
}

std::vector<data::PersonInstance> generate_instances(const std::string& dir, int images) {
  const int K = pose::coco_wholebody().size();
  std::vector<data::PersonInstance> out;
  Generator gen(2024);
  for (int i = 0; i < images; ++i) {
    const std::string path = dir + "/img" + std::to_string(i) + ".jpg";
    data::write_image(path, photo_like(100 + i), 90);
    for (int p = 0; p < 4; ++p) {
      data::PersonInstance inst;
      inst.image_path = path;
      inst.image_id = i;
      inst.annotation_id = i * 4 + p;
      inst.bbox = {gen.uniform(0, 400), gen.uniform(0, 200), gen.uniform(60, 240), gen.uniform(120, 280)};
      for (int k = 0; k < K; ++k) {
        inst.keypoints.push_back(inst.bbox.x + gen.uniform(0, inst.bbox.w));
        inst.keypoints.push_back(inst.bbox.y + gen.uniform(0, inst.bbox.h));
        inst.keypoints.push_back(gen.uniform() < 0.8 ? 2.0 : 0.0);
      }
      out.push_back(std::move(inst));
    }
  }
  return out;
}

struct Rates {
  double decode = 0, transform = 0, sample = 0, loader = 0;
};

Rates measure(const Scenario& sc, const std::vector<data::PersonInstance>& instances, const DataBenchOptions& opt,
              int workers) {
  data::TopDownConfig cfg;
  cfg.codec.input_w = sc.input_w, cfg.codec.input_h = sc.input_h;
  cfg.codec.heatmap_w = sc.heatmap_w, cfg.codec.heatmap_h = sc.heatmap_h;
  cfg.codec.sigma = sc.sigma;
  const data::TopDownDataset ds(instances, pose::coco_wholebody(), cfg);
  const int64_t K = ds.num_keypoints();
  std::vector<float> image(3 * static_cast<size_t>(sc.input_w) * sc.input_h);
  std::vector<float> heatmaps(static_cast<size_t>(K) * sc.heatmap_w * sc.heatmap_h), weights(K);
  const data::SampleBuffers out{image.data(), heatmaps.data(), weights.data()};
  data::SampleMeta meta;
  const int n = opt.samples;
  auto index = [&](int i) { return static_cast<int64_t>(i) % ds.size(); };
  Rates r;

  // Decoding every image once first also warms the page cache, so no timing below includes the disk.
  std::vector<data::Image> decoded;
  for (int i = 0; i < opt.images; ++i) decoded.push_back(data::read_image(instances[4 * i].image_path, 3));
  auto t0 = Clock::now();
  for (int i = 0; i < n; ++i) data::read_image(ds.instance(index(i)).image_path, 3);
  r.decode = n / seconds_since(t0);

  t0 = Clock::now();
  for (int i = 0; i < n; ++i) {
    Generator gen(data::sample_seed(1, 0, i));
    ds.make_sample(decoded[index(i) / 4], ds.instance(index(i)), gen, out, meta);
  }
  r.transform = n / seconds_since(t0);

  t0 = Clock::now();
  for (int i = 0; i < n; ++i) {
    Generator gen(data::sample_seed(1, 0, i));
    ds.make_sample(index(i), gen, out, meta);
  }
  r.sample = n / seconds_since(t0);

  data::LoaderOptions lo;
  lo.batch_size = 32;
  lo.workers = workers;
  lo.prefetch = 2 * workers;
  lo.drop_last = false;  // every epoch yields at least one batch, however few instances there are
  int64_t made = 0;
  t0 = Clock::now();
  for (int64_t epoch = 0; made < n; ++epoch) {
    data::BatchLoader loader(ds, lo, epoch);
    while (made < n) {
      std::optional<data::Batch> b = loader.next();
      if (!b) break;
      made += b->images.size(0);
    }
  }
  r.loader = made / seconds_since(t0);
  return r;
}

// The synthetic generator (wbpose-synth) at 640x480, normal difficulty, on one thread: rendering
// (background, people, visibility, annotations, camera effects) and JPEG encoding, as images per
// second of wall time and of the thread's CPU time (the machine may be shared; CPU time is what
// one core would give).
struct SynthRates {
  double render_wall = 0, render_cpu = 0, encode_wall = 0, encode_cpu = 0;
  double people = 0, kib = 0;
};

double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

SynthRates measure_synth(int n) {
  SynthRates r;
  const data::synth::SceneOptions opt{640, 480, data::synth::Difficulty::normal};
  std::vector<data::Image> images;
  auto t0 = Clock::now();
  double c0 = thread_cpu_seconds();
  for (int i = 0; i < n; ++i) {
    data::synth::Scene s = data::synth::render_scene(opt, static_cast<uint64_t>(i));
    r.people += static_cast<double>(s.people.size()) / n;
    if (images.size() < 32) images.push_back(std::move(s.image));
  }
  r.render_wall = n / seconds_since(t0);
  r.render_cpu = n / (thread_cpu_seconds() - c0);
  t0 = Clock::now();
  c0 = thread_cpu_seconds();
  for (int i = 0; i < n; ++i) r.kib += static_cast<double>(data::encode_jpeg(images[i % images.size()], 90).size()) / 1024 / n;
  r.encode_wall = n / seconds_since(t0);
  r.encode_cpu = n / (thread_cpu_seconds() - c0);
  return r;
}

}  // namespace

int run_data_benchmark(const DataBenchOptions& opt) {
  check(opt.samples > 0 && opt.images > 0 && opt.workers >= 0, "wbpose-bench data: --samples ", opt.samples,
        ", --images ", opt.images, " and --workers ", opt.workers, " must be positive (workers may be 0)");
  const int workers = opt.workers > 0 ? opt.workers : std::max(1u, std::thread::hardware_concurrency());
  const ScratchDir dir;
  const std::vector<data::PersonInstance> instances = generate_instances(dir.path, opt.images);
  uintmax_t jpeg_bytes = 0;
  for (int i = 0; i < opt.images; ++i) jpeg_bytes += fs::file_size(instances[4 * i].image_path);

  const Scenario scenarios[] = {{"256x192", 192, 256, 48, 64, 2.0}, {"384x288", 288, 384, 72, 96, 3.0}};
  std::ostringstream md;
  const std::time_t now = std::time(nullptr);
  char date[32];
  std::strftime(date, sizeof date, "%Y-%m-%d", std::gmtime(&now));
  md << "# wbpose-bench data\n\n"
     << "- machine: " << kernels::cpu::cpu_model_name() << ", " << std::thread::hardware_concurrency() << " hardware threads\n"
     << "- date: " << date << "\n"
     << "- command: `wbpose-bench data --samples " << opt.samples << " --images " << opt.images << " --workers "
     << workers << (opt.out_md.empty() ? "" : " --out " + opt.out_md) << "`\n"
     << "- data: " << opt.images << " generated 640x480 JPEGs (quality 90, mean " << jpeg_bytes / opt.images / 1024
     << " KiB), four people each, 133 whole-body keypoints (80% labelled); training augmentation on\n"
     << "- per core: one thread, " << opt.samples << " samples. JPEG: read and decode (stb_image); crop+targets: "
     << "flip, half-body, shift/scale/rotation, bilinear warp, normalisation and MSRA heatmaps of a decoded "
     << "image; sample: both. Loader: BatchLoader, batch 32, " << workers << " worker threads.\n\n"
     << "| input | heatmaps (sigma) | JPEG /s per core | crop+targets /s per core | sample /s per core | loader /s ("
     << workers << " threads) | cores for 1500 samples/s |\n|---|---|---|---|---|---|---|\n";
  for (const Scenario& sc : scenarios) {
    std::cerr << "wbpose-bench data: " << sc.name << "...\n";
    const Rates r = measure(sc, instances, opt, workers);
    md << "| " << sc.name << " | " << sc.heatmap_h << "x" << sc.heatmap_w << " (" << fmt(sc.sigma, 0) << ") | "
       << fmt(r.decode, 0) << " | " << fmt(r.transform, 0) << " | " << fmt(r.sample, 0) << " | " << fmt(r.loader, 0)
       << " | " << fmt(std::ceil(1500.0 / r.sample), 0) << " |\n";
  }
  std::cerr << "wbpose-bench data: synthetic images...\n";
  const SynthRates sr = measure_synth(opt.samples);
  auto both = [](double a, double b) { return 1.0 / (1.0 / a + 1.0 / b); };
  md << "\n## wbpose-synth: synthetic 640x480 images per core\n\n"
     << "One thread, " << opt.samples << " images, difficulty normal (mean " << fmt(sr.people, 1)
     << " people per image, JPEG quality 90, mean " << fmt(sr.kib, 0) << " KiB). Render: background, people, "
     << "visibility and annotations, camera effects. Per second of wall time and, in brackets, of the thread's CPU "
     << "time (what one free core gives on a shared machine).\n\n"
     << "| render /s | JPEG encode /s | render + encode /s |\n|---|---|---|\n"
     << "| " << fmt(sr.render_wall, 0) << " (" << fmt(sr.render_cpu, 0) << ") | " << fmt(sr.encode_wall, 0) << " ("
     << fmt(sr.encode_cpu, 0) << ") | " << fmt(both(sr.render_wall, sr.encode_wall), 0) << " ("
     << fmt(both(sr.render_cpu, sr.encode_cpu), 0) << ") |\n";
  std::cout << md.str();
  if (!opt.out_md.empty()) write_file_atomic(opt.out_md, md.str());
  return 0;
}

}  // namespace wb::bench
