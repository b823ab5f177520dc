// Images as the data pipeline sees them: 8-bit, interleaved channels (HWC), rows top to bottom.
// Decoding and encoding go through stb_image / stb_image_write; every failure names the file.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "tensor/tensor.h"

namespace wb::data {

struct Image {
  int width = 0, height = 0, channels = 0;
  std::vector<uint8_t> pixels;  // height * width * channels, HWC

  Image() = default;
  Image(int width, int height, int channels);  // zero-filled
  uint8_t* at(int x, int y) { return pixels.data() + (static_cast<size_t>(y) * width + x) * channels; }
  const uint8_t* at(int x, int y) const {
    return pixels.data() + (static_cast<size_t>(y) * width + x) * channels;
  }
  bool empty() const { return pixels.empty(); }
};

// Decoded images are at most this many pixels (10000 x 10000: 300 MB as RGB), unless the environment
// variable WBPOSE_MAX_IMAGE_PIXELS sets another limit: a small file can declare a huge image.
constexpr int64_t kDefaultMaxImagePixels = 100'000'000;
int64_t max_image_pixels();

// Decodes JPEG or PNG (other formats are refused) into `channels` channels (1, 3 or 4; grey and
// alpha are converted by stb); an image above max_image_pixels() is refused before it is decoded.
// `name` is what an error message calls the data.
Image decode_image(std::string_view bytes, const std::string& name, int channels = 3);
Image read_image(const std::string& path, int channels = 3);

std::string encode_png(const Image& img);
std::string encode_jpeg(const Image& img, int quality = 95);
// Written atomically (tensor/atomic_file.h); the format follows the extension (.png, .jpg, .jpeg).
void write_image(const std::string& path, const Image& img, int jpeg_quality = 95);

// [H, W, C] u8 tensor sharing nothing with the image (a copy).
Tensor image_to_tensor(const Image& img);

}  // namespace wb::data
