// The pixel-format table: how many bytes one raw frame of a given ffmpeg pixel format takes,
// for sizing stdout frames. Every format of ffmpeg 5.1 (`ffmpeg -pix_fmts`) plus those 6.0–7.0
// added; sizes follow av_image_get_buffer_size(fmt, w, h, 1), which the rawvideo encoder uses.
#pragma once

#include <array>
#include <cstddef>
#include <optional>
#include <sidecar/export.hpp>
#include <span>
#include <string_view>

namespace sidecar {

/// One component (Y, U, V, A, R, G, B…) of a pixel format, as libavutil describes it.
struct SIDECAR_API pixel_component {
  int plane = 0; ///< which plane it is stored in
  int step = 0;  ///< bytes (bits, for bitstream formats) between two pixels in the plane
  int depth = 0; ///< significant bits
};

/// What sidecar knows of one pixel format: its layout, for frame sizes and plane offsets.
struct SIDECAR_API pixel_format_info {
  std::string_view name;  ///< "yuv420p", "rgb48be"
  std::string_view alias; ///< another name ffmpeg accepts ("y400a" for ya8), often empty
  std::string_view since; ///< the ffmpeg release whose table it comes from ("5.1", "6.0")
  int components = 0;     ///< NB_COMPONENTS of `ffmpeg -pix_fmts`
  int bits_per_pixel = 0; ///< BITS_PER_PIXEL of `ffmpeg -pix_fmts` (average)
  int log2_chroma_w = 0;  ///< 1 for 4:2:x horizontally
  int log2_chroma_h = 0;  ///< 1 for 4:2:0 vertically
  std::array<pixel_component, 4> comp{}; ///< the first `components` describe the components
  bool big_endian = false;               ///< multi-byte components stored big-endian
  bool paletted = false;                 ///< pal8: a 1024-byte palette follows the pixels
  bool bitstream = false;                ///< pixels smaller than a byte (monow, rgb4)
  bool hardware = false; ///< hwaccel surfaces (vaapi, cuda…): never bytes on a pipe
  bool planar = false;   ///< one plane per component (or chroma pair), not packed
  bool rgb = false;      ///< RGB-like, not YUV
  bool alpha = false;    ///< has an alpha component
  bool bayer = false;    ///< a Bayer mosaic
  bool floating = false; ///< components are floats
};

/// Every format of the table, sorted by name.
SIDECAR_API std::span<const pixel_format_info> pixel_formats() noexcept;

/// The entry for an ffmpeg pixel format name or alias, nullptr if unknown. Names without an
/// endianness suffix ("rgb48", "gray16") find the little-endian (x86, ARM) variant, as
/// ffmpeg's native-endian macros do.
SIDECAR_API const pixel_format_info* find_pixel_format(std::string_view name) noexcept;

/// Bytes of one width×height frame as ffmpeg's rawvideo encoder writes it:
/// av_image_get_buffer_size(fmt, width, height, 1) — planes back to back, no row padding,
/// chroma sizes rounded up, pal8's palette included. nullopt for hardware formats and sizes
/// ffmpeg refuses (≤ 0, or too large).
SIDECAR_API std::optional<std::size_t> frame_size(const pixel_format_info& format, int width,
                                                  int height) noexcept;
/// The same by the format's name ("rgb24"); nullopt for a name not in the table.
SIDECAR_API std::optional<std::size_t> frame_size(std::string_view name, int width,
                                                  int height) noexcept;

} // namespace sidecar
