#include <unistd.h>

#include <cmath>
#include <cstdlib>
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

// An image bomb: a small PNG whose header declares 12000 x 12000 pixels (430 MB decoded; stb's own
// limit, 1 GB, would let it through) is refused from its header, before any pixel is decoded; the
// limit is the environment's to raise or lower.
TEST_CASE("image: a declared size above the pixel limit is refused before decoding") {
  std::string bomb = encode_png(noise_image(40, 30, 3));
  for (int i = 0; i < 2; ++i) {  // IHDR's big-endian width and height, bytes 16-23
    const uint32_t side = 12000;
    for (int b = 0; b < 4; ++b) bomb[16 + 4 * i + b] = static_cast<char>((side >> (24 - 8 * b)) & 0xff);
  }
  const std::string e = test::error_of([&] { decode_image(bomb, "bomb.png"); });
  CHECK(e.find("bomb.png") != std::string::npos);
  CHECK(e.find("12000x12000 pixels exceed the limit of 100000000") != std::string::npos);

  const std::string small = encode_png(noise_image(40, 30, 3));
  ::setenv("WBPOSE_MAX_IMAGE_PIXELS", "1000", 1);
  CHECK(test::error_of([&] { decode_image(small, "small.png"); }).find("40x30 pixels exceed the limit of 1000") !=
        std::string::npos);
  ::setenv("WBPOSE_MAX_IMAGE_PIXELS", "lots", 1);
  CHECK(test::error_of([&] { decode_image(small, "small.png"); }).find("WBPOSE_MAX_IMAGE_PIXELS=lots") !=
        std::string::npos);
  ::unsetenv("WBPOSE_MAX_IMAGE_PIXELS");
  CHECK(decode_image(small, "small.png").width == 40);
  // What Debian's stb_image 2.27 mishandles is refused before it decodes (datasets/image_guard.h):
  // a JPEG Huffman table of more than 256 codes (stb wrote past its tables), an empty PNG IDAT.
  const std::string jpeg = encode_jpeg(noise_image(40, 30, 3));
  const size_t dht = jpeg.find("\xFF\xC4");
  REQUIRE(dht != std::string::npos);
  std::string bad_dht = jpeg;
  for (size_t k = 0; k < 16; ++k) bad_dht[dht + 5 + k] = static_cast<char>(0x40);  // 16 x 64 codes
  CHECK(test::error_of([&] { decode_image(bad_dht, "dht.jpg"); }).find("corrupt JPEG Huffman table") !=
        std::string::npos);
  // The same behind fill bytes, which stb skips before the start of image (found by the CI fuzz run).
  CHECK(test::error_of([&] { decode_image(std::string(16, '\xFF') + bad_dht, "fill.jpg"); })
            .find("corrupt JPEG Huffman table") != std::string::npos);
  CHECK(decode_image(jpeg, "good.jpg").width == 40);
  std::string empty_idat = small;
  const size_t idat = empty_idat.find("IDAT") - 4;
  empty_idat.insert(idat, std::string("\0\0\0\0IDAT\x35\xAF\x06\x1E", 12));  // a zero-length IDAT first
  CHECK(test::error_of([&] { decode_image(empty_idat, "idat.png"); }).find("empty IDAT") != std::string::npos);
  std::string lying = small;  // the IHDR chunk's length field (bytes 8-11) claims 1.5 GB
  lying[8] = '\x5D';
  CHECK(test::error_of([&] { decode_image(lying, "lying.png"); }).find("beyond the end of the file") !=
        std::string::npos);
  // JPEG and PNG only: a PNM of 86 x 0 pixels once decoded to an image with no pixels (fuzzing).
  CHECK(test::error_of([&] { decode_image(std::string("P6\n86 0\n255\n"), "flat.ppm"); }).find("flat.ppm") !=
        std::string::npos);
}
