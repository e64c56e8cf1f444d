// ffmpeg's stdout, read only when the program asks for the next event: raw video split into
// whole frames (sized from what stderr said of the outputs), anything else into chunks.
// The first bytes are staged until stderr has described every output, then decide which.
#pragma once

#include "event_queue.hpp"
#include "metadata_collector.hpp"
#include "stderr_reader.hpp"

#include <sidecar/detail/buffer_pool.hpp>

#include <asio/readable_pipe.hpp>

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sidecar::detail {

class stdout_framer {
public:
  static constexpr std::size_t chunk_size = 256 * 1024;
  // Staged reads start small (a child whose stdout carries nothing costs little) and grow.
  static constexpr std::size_t first_read = 1024;
  static constexpr std::size_t staging_read = 64 * 1024;
  static constexpr std::size_t staging_limit = 16 * 1024 * 1024;
  // Reads made at once when a read of a frame completes partial (see read_ready).
  static constexpr int direct_reads = 16;

  stdout_framer(event_queue& queue, stderr_reader& err, metadata_collector& meta, std::string name)
      : queue_(queue), err_(err), meta_(meta), name_(std::move(name)) {}

  // The child's stdout (in the child's shared state, which outlives this); null or closed:
  // nothing to read.
  void attach(asio::readable_pipe* out);
  bool done() const noexcept { return done_; }
  asio::readable_pipe* pipe() const noexcept { return out_; }
  // The program takes stdout as a byte stream: no more reads from here.
  void give_up() noexcept { done_ = true; }
  // Stops waiting for the end of stdout: closes it (a pending read ends as at its end).
  void abandon();
  // Has a read started, or the frames-or-chunks decision been made?
  bool started() const noexcept { return read_pending_ || mode_ != mode::undecided; }
  bool undecided() const noexcept { return mode_ == mode::undecided; }

  // Starts one read, sized for what comes next, unless one is pending or stdout ended; its
  // completion queues frames, chunks or the end. `keep` holds what this framer lives in.
  void start_read(const std::shared_ptr<void>& keep);

private:
  enum class mode { undecided, frames, chunks };
  struct frame_output {
    int index;
    int width, height;
    std::string_view pix_fmt;
    std::size_t size;
    std::optional<double> fps;
    std::uint64_t count = 0;
    std::shared_ptr<buffer_pool> pool;
  };

  void on_staged(std::error_code ec, std::size_t have, std::size_t n);
  void on_frame_bytes(const std::shared_ptr<void>& keep, std::error_code ec, std::size_t n);
  void read_ready();
  void on_chunk(std::error_code ec, std::size_t n);
  void consume_staged();
  void decide();
  std::optional<std::vector<frame_output>> raw_outputs(const std::vector<const output_info*>& to);
  void emit_frame();
  void consume(const std::byte* p, std::size_t n);
  void on_end(const std::error_code& ec);
  // Reading is over: done, and stderr is never read from here again (its reader may leave a
  // read pending from now on).
  void stop_reading() noexcept;

  asio::readable_pipe* out_ = nullptr;
  bool done_ = false;
  bool read_pending_ = false;
  bool nonblocking_ = false; // stdout's descriptor seen non-blocking
  mode mode_ = mode::undecided;
  std::vector<frame_output> outputs_;
  std::size_t turn_ = 0; // which of outputs_ the next frame belongs to
  pooled_buffer current_;
  std::size_t filled_ = 0;
  std::shared_ptr<buffer_pool> chunk_pool_;
  int chunk_output_ = -1;
  std::vector<std::byte> staging_;
  std::size_t staged_pos_ = 0;         // staged bytes already consumed (once decided)
  std::optional<std::error_code> end_; // stdout ended while bytes were still staged

  event_queue& queue_;
  stderr_reader& err_;
  metadata_collector& meta_;
  std::string name_;
};

} // namespace sidecar::detail
