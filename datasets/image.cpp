#include "datasets/image.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <limits>

#include "datasets/image_guard.h"
#include "tensor/atomic_file.h"
#include "tensor/error.h"

// The one translation unit that compiles stb's implementations. stb_image reports failures through a
// thread-local reason string (C++11 thread_local), so decoding from several loader threads is safe.
// stb is third-party C compiled as C++: its own warnings are not ours to fix.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-but-set-variable"
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#define STB_IMAGE_IMPLEMENTATION
#define STBI_FAILURE_USERMSG
// JPEG and PNG only (COCO's and our own files): stb's other decoders (GIF, PNM, PSD, HDR, ...) are a
// surface for hostile files that no dataset here needs; fuzzing found 0-pixel PNMs among them.
#define STBI_ONLY_JPEG
#define STBI_ONLY_PNG
#include <stb_image.h>
#define STB_IMAGE_WRITE_IMPLEMENTATION
#include <stb_image_write.h>
#pragma GCC diagnostic pop

namespace wb::data {

Image::Image(int w, int h, int c) : width(w), height(h), channels(c) {
  check(w > 0 && h > 0 && c >= 1 && c <= 4, "Image: invalid size ", w, "x", h, "x", c);
  pixels.assign(static_cast<size_t>(w) * h * c, 0);
}

int64_t max_image_pixels() {
  const char* env = std::getenv("WBPOSE_MAX_IMAGE_PIXELS");
  if (env == nullptr || *env == '\0') return kDefaultMaxImagePixels;
  char* end = nullptr;
  errno = 0;
  const long long v = std::strtoll(env, &end, 10);
  check(errno == 0 && end != env && *end == '\0' && v > 0, "WBPOSE_MAX_IMAGE_PIXELS=", env,
        ": expected a positive number of pixels");
  return v;
}

Image decode_image(std::string_view bytes, const std::string& name, int channels) {
  check(channels >= 1 && channels <= 4, "image '", name, "': cannot decode into ", channels, " channels");
  check(bytes.size() <= static_cast<size_t>(std::numeric_limits<int>::max()), "image '", name,
        "': file too large to decode (", bytes.size(), " bytes)");
  check_image_structure(bytes, name);  // what stb 2.27 mishandles (datasets/image_guard.h)
  int w = 0, h = 0, file_channels = 0;
  // The header first: a 657 KB PNG may declare 26000 x 26000 grey pixels (4 GB decoded as RGB).
  if (stbi_info_from_memory(reinterpret_cast<const stbi_uc*>(bytes.data()), static_cast<int>(bytes.size()), &w, &h,
                            &file_channels) == 1) {
    const int64_t limit = max_image_pixels();
    check(static_cast<int64_t>(w) * h <= limit, "image '", name, "': ", w, "x", h, " pixels exceed the limit of ",
          limit, " (set WBPOSE_MAX_IMAGE_PIXELS to raise it)");
  }
  stbi_uc* data = stbi_load_from_memory(reinterpret_cast<const stbi_uc*>(bytes.data()),
                                        static_cast<int>(bytes.size()), &w, &h, &file_channels, channels);
  if (data == nullptr) {
    const char* why = stbi_failure_reason();
    fail("image '", name, "' does not decode: ", why ? why : "unknown reason");
  }
  if (w <= 0 || h <= 0) {
    stbi_image_free(data);
    fail("image '", name, "' has no pixels (", w, "x", h, ")");
  }
  Image img;
  img.width = w;
  img.height = h;
  img.channels = channels;
  img.pixels.assign(data, data + static_cast<size_t>(w) * h * channels);
  stbi_image_free(data);
  return img;
}

Image read_image(const std::string& path, int channels) {
  return decode_image(read_file(path), path, channels);
}

namespace {

void append_bytes(void* context, void* data, int size) {
  static_cast<std::string*>(context)->append(static_cast<const char*>(data), static_cast<size_t>(size));
}

void check_encodable(const Image& img, const char* what) {
  check(!img.empty() && img.pixels.size() == static_cast<size_t>(img.width) * img.height * img.channels,
        what, ": image of ", img.width, "x", img.height, "x", img.channels, " holds ", img.pixels.size(),
        " bytes");
}

std::string lower_extension(const std::string& path) {
  const size_t dot = path.find_last_of('.');
  const size_t slash = path.find_last_of('/');
  if (dot == std::string::npos || (slash != std::string::npos && dot < slash)) return "";
  std::string ext = path.substr(dot + 1);
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  return ext;
}

}  // namespace

std::string encode_png(const Image& img) {
  check_encodable(img, "encode_png");
  std::string out;
  const int ok = stbi_write_png_to_func(append_bytes, &out, img.width, img.height, img.channels,
                                        img.pixels.data(), img.width * img.channels);
  check(ok != 0, "encode_png: stb_image_write failed on a ", img.width, "x", img.height, "x", img.channels,
        " image");
  return out;
}

std::string encode_jpeg(const Image& img, int quality) {
  check_encodable(img, "encode_jpeg");
  check(quality >= 1 && quality <= 100, "encode_jpeg: quality ", quality, " is not in [1, 100]");
  std::string out;
  const int ok = stbi_write_jpg_to_func(append_bytes, &out, img.width, img.height, img.channels,
                                        img.pixels.data(), quality);
  check(ok != 0, "encode_jpeg: stb_image_write failed on a ", img.width, "x", img.height, "x",
        img.channels, " image");
  return out;
}

void write_image(const std::string& path, const Image& img, int jpeg_quality) {
  const std::string ext = lower_extension(path);
  if (ext == "png") {
    write_file_atomic(path, encode_png(img));
  } else if (ext == "jpg" || ext == "jpeg") {
    write_file_atomic(path, encode_jpeg(img, jpeg_quality));
  } else {
    fail("write_image '", path, "': unknown image extension (use .png, .jpg or .jpeg)");
  }
}

Tensor image_to_tensor(const Image& img) {
  check(!img.empty(), "image_to_tensor: empty image");
  Tensor t = Tensor::empty({img.height, img.width, img.channels}, DType::U8);
  std::memcpy(t.data<uint8_t>(), img.pixels.data(), img.pixels.size());
  return t;
}

}  // namespace wb::data
