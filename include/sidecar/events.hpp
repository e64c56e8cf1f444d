// The events a running ffmpeg produces: everything the log parser recognizes on stderr, plus
// raw frames and byte chunks from stdout and errors — one flat variant.
#pragma once

#include <sidecar/detail/buffer_pool.hpp>
#include <sidecar/error.hpp>
#include <sidecar/export.hpp>
#include <sidecar/log.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace sidecar {

/// One raw video frame read from stdout. Its buffer comes from a small pool and goes back when
/// the frame is destroyed; keep a frame only as long as you need its pixels.
class SIDECAR_API frame {
public:
  int width = 0;                          ///< pixels
  int height = 0;                         ///< pixels
  std::string_view pix_fmt;               ///< a name from the pixel-format table ("rgb24")
  int output_index = 0;                   ///< the ffmpeg output (`Output #N`) it belongs to
  std::uint64_t number = 0;               ///< 0-based, per output
  std::chrono::microseconds timestamp{0}; ///< number / frame rate, when the rate is known

  /// The pixels, as ffmpeg wrote them (packed or planar per pix_fmt).
  std::span<const std::byte> data() const noexcept { return {buffer_.data(), size_}; }
  /// The pixels, writable (to change them before write_frame() to another ffmpeg).
  std::span<std::byte> data() noexcept { return {buffer_.data(), size_}; }
  /// Bytes in data().
  std::size_t size() const noexcept { return size_; }

  frame() = default; ///< An empty frame (no buffer).
  /// A frame over a pooled buffer's first `size` bytes (the event stream makes them).
  frame(detail::pooled_buffer b, std::size_t size) : buffer_(std::move(b)), size_(size) {}

private:
  detail::pooled_buffer buffer_;
  std::size_t size_ = 0;
};

/// Bytes from stdout that are not raw frames (an encoded stream, or frames of unknown size).
class SIDECAR_API chunk {
public:
  int output_index = -1; ///< the stdout output when exactly one writes there, else -1
  /// The bytes, as read from stdout.
  std::span<const std::byte> data() const noexcept { return {buffer_.data(), size_}; }
  /// Bytes in data().
  std::size_t size() const noexcept { return size_; }

  chunk() = default; ///< An empty chunk.
  /// A chunk over a pooled buffer's first `size` bytes (the event stream makes them).
  chunk(detail::pooled_buffer b, std::size_t size) : buffer_(std::move(b)), size_(size) {}

private:
  detail::pooled_buffer buffer_;
  std::size_t size_ = 0;
};

/// Something went wrong: the run failed (error carries exit status and ffmpeg's lines), or the
/// stream could not be read as asked (e.g. interleaved outputs at different frame rates).
struct SIDECAR_API error_event {
  sidecar::error error; ///< what happened, with the exit status and ffmpeg's lines for a run
};

namespace detail {
template <class V, class... More> struct variant_append;
template <class... A, class... More> struct variant_append<std::variant<A...>, More...> {
  using type = std::variant<A..., More...>;
};
} // namespace detail

/// Everything next_event() can yield: the parser's events (version, configuration,
/// library_version, input_info, duration_info, stream_info, stream_mapping_entry, output_info,
/// progress, log_line, …) and frame, chunk, error_event.
using event = detail::variant_append<log_event, frame, chunk, error_event>::type;

/// What ffmpeg said about its inputs and outputs before it started.
struct SIDECAR_API metadata {
  std::optional<version_info> version;       ///< a git/static build's release from its libavutil
  std::vector<input_info> inputs;            ///< `Input #N` lines, in order
  std::vector<duration_info> durations;      ///< `Duration:` lines, each naming its input
  std::vector<output_info> outputs;          ///< `Output #N` lines, in order
  std::vector<stream_info> streams;          ///< input and output streams, in the order printed
  std::vector<stream_mapping_entry> mapping; ///< the `Stream mapping:` lines
  /// False when ffmpeg printed less than usual (a lowered log level): what is here is all
  /// there will be.
  bool complete = false;

  /// Output `index`, nullptr when ffmpeg did not describe it.
  const output_info* output(int index) const;
  /// Output streams of output `index`.
  std::vector<const stream_info*> output_streams(int index) const;
  /// Streams of input `index`.
  std::vector<const stream_info*> input_streams(int index) const;
  /// Input `index`'s duration (`Duration:`), nullopt when it printed N/A or none.
  std::optional<std::chrono::microseconds> duration(int index = 0) const;
};

} // namespace sidecar
