#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace wb {

enum class DType : uint8_t { F32, F64, F16, BF16, I32, I64, U8 };

size_t dtype_size(DType t);
const char* dtype_name(DType t);
bool is_floating(DType t);

template <class T> struct dtype_of;
template <> struct dtype_of<float> { static constexpr DType value = DType::F32; };
template <> struct dtype_of<double> { static constexpr DType value = DType::F64; };
template <> struct dtype_of<int32_t> { static constexpr DType value = DType::I32; };
template <> struct dtype_of<int64_t> { static constexpr DType value = DType::I64; };
template <> struct dtype_of<uint8_t> { static constexpr DType value = DType::U8; };

// IEEE half and bfloat16 conversions (round to nearest even), used for safetensors storage.
uint16_t float_to_half(float f);
float half_to_float(uint16_t h);
uint16_t float_to_bfloat16(float f);
float bfloat16_to_float(uint16_t b);

}  // namespace wb
