#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <functional>

#include "datasets/image.h"
#include "tensor/atomic_file.h"
#include "tensor/generator.h"
#include "tests/temp_dir.h"
#include "tests/util.h"

using namespace wb;
using namespace wb::data;
namespace fs = std::filesystem;

using wb::test::TempDir;

namespace {

// A folder of its own under the system temp dir, removed with its contents at scope exit.

Image noise_image(int w, int h, uint64_t seed) {
  Image img(w, h, 3);
  Generator gen(seed);
  for (uint8_t& v : img.pixels) v = static_cast<uint8_t>(gen.randint(0, 256));
  return img;
}

// A smooth picture: JPEG keeps it within a few grey levels.
Image gradient_image(int w, int h) {
  Image img(w, h, 3);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      uint8_t* p = img.at(x, y);
      p[0] = static_cast<uint8_t>(255 * x / (w - 1));
      p[1] = static_cast<uint8_t>(255 * y / (h - 1));
      p[2] = 128;
    }
  return img;
}

}  // namespace

TEST_CASE("image: PNG round trip is exact, JPEG close, in 1, 3 and 4 channels") {
  TempDir dir;
  const Image img = noise_image(37, 23, 1);
  write_image(dir.file("noise.png"), img);
  const Image back = read_image(dir.file("noise.png"));
  CHECK(back.width == 37);
  CHECK(back.height == 23);
  CHECK(back.channels == 3);
  CHECK(back.pixels == img.pixels);

  const Image grey = read_image(dir.file("noise.png"), 1);
  CHECK(grey.channels == 1);
  CHECK(grey.pixels.size() == 37u * 23u);
  const Image rgba = read_image(dir.file("noise.png"), 4);
  CHECK(rgba.channels == 4);
  CHECK(rgba.at(5, 7)[3] == 255);
  CHECK(rgba.at(5, 7)[1] == img.at(5, 7)[1]);

  const Image smooth = gradient_image(64, 48);
  write_image(dir.file("smooth.JPG"), smooth, 95);
  const Image jpeg = read_image(dir.file("smooth.JPG"));
  REQUIRE(jpeg.pixels.size() == smooth.pixels.size());
  double err = 0;
  for (size_t i = 0; i < smooth.pixels.size(); ++i) err += std::fabs(double(jpeg.pixels[i]) - smooth.pixels[i]);
  CHECK(err / smooth.pixels.size() < 2.0);

  const Tensor t = image_to_tensor(img);
  CHECK(t.shape() == Shape{23, 37, 3});
  CHECK(t.dtype() == DType::U8);
  CHECK(t.data<uint8_t>()[(7 * 37 + 5) * 3 + 2] == img.at(5, 7)[2]);
}

TEST_CASE("image: unreadable, corrupt and truncated files are errors naming the path") {
  TempDir dir;
  const std::string missing = dir.file("missing.jpg");
  CHECK(test::error_of([&] { read_image(missing); }).find(missing) != std::string::npos);

  const std::string garbage = dir.file("garbage.png");
  write_file_atomic(garbage, "this is not an image at all, only text pretending to be one");
  const std::string e1 = test::error_of([&] { read_image(garbage); });
  CHECK(e1.find(garbage) != std::string::npos);
  CHECK(e1.find("does not decode") != std::string::npos);

  // A real PNG cut in half: the compressed pixel data ends early.
  const std::string png = encode_png(noise_image(40, 30, 2));
  const std::string cut = dir.file("cut.png");
  write_file_atomic(cut, png.substr(0, png.size() / 2));
  const std::string e2 = test::error_of([&] { read_image(cut); });
  CHECK(e2.find(cut) != std::string::npos);

  const std::string empty = dir.file("empty.jpg");
  write_file_atomic(empty, "");
  CHECK(test::error_of([&] { read_image(empty); }).find(empty) != std::string::npos);

  CHECK(test::error_of([&] { write_image(dir.file("x.bmp"), noise_image(4, 4, 3)); }).find("x.bmp") != std::string::npos);
}
