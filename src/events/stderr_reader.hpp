// ffmpeg's stderr, read whenever it is ready and never left undrained (a full stderr pipe
// stops ffmpeg): split into lines once, by the parser, and each event it gives back queued
// with its line's display text (the parser's current line). What the events say of
// the run goes to the metadata, the error record and the progress estimate on the way.
// Every text taken from a line has the command's secrets masked first.
#pragma once

#include "event_queue.hpp"
#include "metadata_collector.hpp"
#include "progress_estimator.hpp"
#include <sidecar/detail/error_record.hpp>

#include <sidecar/log.hpp>

#include <asio/awaitable.hpp>
#include <asio/posix/stream_descriptor.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

namespace sidecar::detail {

// Says whether a line holds one of a command's secrets, in one pass over it whatever their
// number: a Wu–Manber shift table over byte pairs, with a window as long as the shortest
// secret, so most of a line is skipped a window at a time and only a possible match is
// compared. The event stream asks it of every stderr line.
class secret_scanner {
public:
  // `secrets` outlive the scanner.
  explicit secret_scanner(std::span<const std::string> secrets);
  bool found_in(std::string_view text) const noexcept;

private:
  static std::size_t slot(unsigned char a, unsigned char b) noexcept {
    return ((std::size_t{a} << 5) ^ b) & (shifts - 1);
  }
  static constexpr std::size_t shifts = 4096;
  std::span<const std::string> secrets_;
  std::size_t window_ = 0; // the shortest secret's length; 0: none to find
  // Made only for secrets of two bytes or more: a command without secrets holds no table.
  std::unique_ptr<std::array<std::uint8_t, shifts>> shift_;
};

class stderr_reader {
public:
  // `secrets`: the command's (command::secrets()), outliving the reader.
  stderr_reader(const asio::any_io_executor& ex, event_queue& queue, metadata_collector& meta,
                error_record& record, const progress_estimator& estimator,
                std::span<const std::string> secrets)
      : pipe(ex), queue_(queue), meta_(meta), record_(record), estimator_(estimator),
        secrets_(secrets), scanner_(secrets) {}

  asio::posix::stream_descriptor pipe; // non-blocking: read_now() never waits
  // -progress pipe:N is the source of progress: stderr's stats lines are left out.
  bool progress_from_pipe = false;

  bool done() const noexcept { return done_; }
  // The bytes of stderr the parser has seen: each once.
  std::uint64_t bytes_parsed() const noexcept { return parser_.bytes_parsed(); }

  // Reads until stderr ends; `keep` holds what this reader lives in.
  asio::awaitable<void> run(std::shared_ptr<void> keep);
  // Reads whatever stderr holds right now, without blocking, and parses it in order. Only
  // ever called on the executor, so no other read can interleave; does nothing while run()
  // has a read pending (its bytes come first).
  void read_now();
  // No read_now() will come from outside any more (the stdout framer has decided what stdout
  // carries, or there is no stdout): run() may leave a read pending, which costs no system
  // call to arm, where a wait for readiness costs an epoll_ctl each time (Asio 1.22 re-arms
  // every async_wait). Until then run() waits, so that no bytes sit in a completed read
  // while read_now() parses later ones.
  void only_run_reads() noexcept { only_run_reads_ = true; }

private:
  void parse(std::string_view bytes);
  void on_event(log_event&& e);
  void end();

  log_parser parser_;
  // What run()'s pending read fills: a few stats lines fit, the rest of a longer burst is
  // read at once by read_now().
  std::array<char, 512> first_bytes_;
  bool only_run_reads_ = false;
  bool read_pending_ = false;
  std::uint64_t line_taken_ = 0; // the parser's line whose first event carried its text
  bool line_masked_ = true;      // that line holds a URL or a secret: its texts are masked
  bool done_ = false;

  event_queue& queue_;
  metadata_collector& meta_;
  error_record& record_;
  const progress_estimator& estimator_;
  std::span<const std::string> secrets_;
  secret_scanner scanner_;
};

} // namespace sidecar::detail
