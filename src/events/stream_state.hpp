// The shared state of one ffmpeg_child: the child's process state and the parts that turn its
// output into events — stderr reader, stdout framer, progress pipe, the queue between them and
// the program — and how the run ended. Held by shared_ptr by every reader and every pending
// call, so moving or destroying the ffmpeg_child leaves nothing dangling.
#pragma once

#include "event_queue.hpp"
#include "metadata_collector.hpp"
#include "progress_estimator.hpp"
#include "stderr_reader.hpp"
#include "stdout_framer.hpp"
#include <sidecar/detail/error_record.hpp>

#include <sidecar/child.hpp>
#include <sidecar/error.hpp>
#include <sidecar/log.hpp>

#include <asio/async_result.hpp>
#include <asio/compose.hpp>

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace sidecar::detail {

class stream_state : public std::enable_shared_from_this<stream_state> {
public:
  stream_state(std::shared_ptr<child_state> process, const command& cmd, std::string name)
      : process(std::move(process)), ex(this->process->ex), name(std::move(name)),
        command_line(cmd.to_string()), secrets(cmd.secrets()), queue(ex), meta(secrets),
        estimator(cmd), err(ex, queue, meta, record, estimator, secrets),
        out(queue, err, meta, this->name) {}
  stream_state(const stream_state&) = delete;
  stream_state& operator=(const stream_state&) = delete;

  std::shared_ptr<child_state> process; // shared with the child object and the reaper
  asio::any_io_executor ex;
  std::string name;
  std::string command_line;
  // The command's secrets, masked in every text taken from stderr (by the reader and the
  // metadata, which hold views of it: never changed after construction).
  const std::vector<std::string> secrets;

  event_queue queue;
  metadata_collector meta;
  error_record record;
  progress_estimator estimator;
  stderr_reader err;
  stdout_framer out;
  progress_reader progress_parser;
  asio::readable_pipe* progress_pipe = nullptr; // in the child's state
  bool progress_done = true;

  // Why a cancelled call (wait, next_event, metadata, ...) stopped the child; the step the
  // ladder reached is the child's (process->stop_step).
  std::optional<std::string> stop_reason;
  bool cancelled_call = false; // a call on the stream was cut short by a cancellation
  bool ended = false;          // reaped, and the result recorded
  std::optional<expected<exit_status>> result;

  // Every output ended: only the exit is left to wait for.
  bool outputs_done() const noexcept { return out.done() && err.done() && progress_done; }

  // Starts (or climbs) the child's one stop ladder, remembering the first reason, and
  // watches for the child's exit: once it is reaped (what is left of its process group
  // killed then), outputs still open after stop_grace are held by a process outside the
  // group and are closed, so that a stop always ends the stream.
  void begin_stop(int step, std::string_view why);
  static constexpr std::chrono::milliseconds stop_grace{200};
  bool watching_stop = false;
  // Closes every output not yet at its end: its readers end as at end of stream.
  void abandon_outputs();
  // Records how the run ended once the child is reaped; an error_event when it failed.
  std::optional<queued_event> settle(std::error_code ec, const exit_status& st);
  // What a stopped run gives wait(): errc::cancelled with how it was stopped and why.
  expected<exit_status> stopped_result(int step, std::string_view why) const;

  // Waits for the child's exit and reaps it: void(error_code, exit_status). With kill_group,
  // what is left of its process group is killed as it is reaped.
  template <class Token> auto async_wait_exit(Token&& token, bool kill_group = false) {
    return asio::async_compose<Token, void(std::error_code, exit_status)>(
        wait_exit_op{process, kill_group}, token, ex);
  }
};

// Reads the `-progress pipe:N` key=value blocks into progress events.
asio::awaitable<void> read_progress(std::shared_ptr<stream_state> s);

} // namespace sidecar::detail
