// Frames or chunks from stdout, read on demand into pooled buffers.
#include "stdout_framer.hpp"

#include <sidecar/error.hpp>
#include <sidecar/pixel_format.hpp>

#include <algorithm>
#include <cerrno>
#include <cmath>

#include <fcntl.h>
#include <unistd.h>

namespace sidecar::detail {

void stdout_framer::attach(asio::readable_pipe* out) {
  out_ = out;
  if (!out_ || !out_->is_open()) stop_reading(); // nothing to decide
}

void stdout_framer::abandon() {
  if (done_) return;
  std::error_code ignored;
  if (out_ && out_->is_open()) out_->close(ignored);
  // A pending read completes with operation_aborted and ends the stream after what it read.
  if (read_pending_) return;
  if (!staging_.empty()) {
    if (mode_ == mode::undecided) decide();
    end_ = std::error_code{}; // the end, after the staged bytes
    return;
  }
  on_end({});
}

void stdout_framer::start_read(const std::shared_ptr<void>& keep) {
  if (read_pending_ || done_) return;
  if (mode_ != mode::undecided && (!staging_.empty() || end_)) {
    auto queued = queue_.size();
    consume_staged(); // what was staged first, as if read now
    queue_.wake.notify();
    // Done, or a frame or chunk handed out: that was this read. Else the staged bytes ended
    // inside a frame: read the rest of it from the pipe now.
    if (done_ || !staging_.empty() || queue_.size() > queued) return;
  }
  if (!out_ || !out_->is_open()) {
    stop_reading();
    queue_.wake.notify();
    return;
  }
  read_pending_ = true;
  if (mode_ == mode::undecided) {
    // Stage the first bytes until stderr has described every output the stream mapping
    // names (an output can write its header, even frames, before the next one is
    // described), or until the staging bound: stdout keeps flowing meanwhile.
    auto have = staging_.size();
    auto want = std::min(staging_read, std::max(first_read, have));
    staging_.resize(have + want);
    out_->async_read_some(
        asio::buffer(staging_.data() + have, want),
        [this, keep, have](std::error_code ec, std::size_t n) { on_staged(ec, have, n); });
  } else if (mode_ == mode::frames) {
    auto& o = outputs_[turn_];
    if (!current_) current_ = pooled_buffer(o.pool);
    out_->async_read_some(
        asio::buffer(current_.data() + filled_, o.size - filled_),
        [this, keep](std::error_code ec, std::size_t n) { on_frame_bytes(keep, ec, n); });
  } else {
    if (!chunk_pool_) chunk_pool_ = std::make_shared<buffer_pool>(chunk_size, 4);
    if (!current_) current_ = pooled_buffer(chunk_pool_);
    out_->async_read_some(asio::buffer(current_.data(), chunk_pool_->buffer_size()),
                          [this, keep](std::error_code ec, std::size_t n) { on_chunk(ec, n); });
  }
}

void stdout_framer::on_staged(std::error_code ec, std::size_t have, std::size_t n) {
  read_pending_ = false;
  staging_.resize(have + n);
  err_.read_now();
  bool described = err_.done() || meta_.outputs_described();
  if (!staging_.empty() && (ec || described || staging_.size() >= staging_limit)) decide();
  if (ec) {
    if (mode_ == mode::undecided)
      on_end(ec);
    else
      end_ = ec; // after the staged bytes
  }
  if (mode_ != mode::undecided) consume_staged();
  queue_.wake.notify();
}

// The staged bytes go where reads would have put them, one frame or chunk per call: a
// consumer pulls them as it would pull reads, so 16 MiB staged cost no burst of work or memory.
void stdout_framer::consume_staged() {
  auto rest = staging_.size() - staged_pos_;
  if (rest > 0) {
    auto step = mode_ == mode::frames ? outputs_[turn_].size - filled_ : chunk_size;
    auto n = std::min(rest, step);
    consume(staging_.data() + staged_pos_, n);
    staged_pos_ += n;
  }
  if (staged_pos_ < staging_.size()) return;
  staging_ = {};
  staged_pos_ = 0;
  if (end_) on_end(*end_);
}

void stdout_framer::on_frame_bytes(const std::shared_ptr<void>& keep, std::error_code ec,
                                   std::size_t n) {
  read_pending_ = false;
  filled_ += n;
  if (!ec && filled_ < outputs_[turn_].size) read_ready();
  if (filled_ == outputs_[turn_].size) {
    emit_frame();
  } else if (!ec) {
    // The frame asked for is not whole yet: read on at once, without waking the consumer
    // for a partial frame.
    start_read(keep);
    return;
  }
  if (ec) on_end(ec);
  queue_.wake.notify();
}

// The pipe had bytes a moment ago: take what it holds now with plain non-blocking reads, up
// to the rest of the frame, rather than one round through the io_context per read (half the
// system calls: no epoll_wait between reads). At most `direct_reads` of them, so a fast
// producer of large frames does not hold the thread from other children's handlers.
void stdout_framer::read_ready() {
  const int fd = out_->native_handle();
  if (!nonblocking_) {
    // Asio makes the descriptor non-blocking before its first read; never block the thread
    // if something made it blocking again.
    const int flags = ::fcntl(fd, F_GETFL);
    if (flags == -1 || !(flags & O_NONBLOCK)) return;
    nonblocking_ = true;
  }
  const auto size = outputs_[turn_].size;
  for (int reads = 0; filled_ < size && reads < direct_reads; ++reads) {
    const auto k = ::read(fd, current_.data() + filled_, size - filled_);
    if (k > 0)
      filled_ += static_cast<std::size_t>(k);
    else if (k < 0 && errno == EINTR)
      continue;
    else
      return; // empty (EAGAIN), the end or an error: the next asynchronous read reports it
  }
}

void stdout_framer::on_chunk(std::error_code ec, std::size_t n) {
  read_pending_ = false;
  if (n > 0) {
    chunk c(std::move(current_), n);
    c.output_index = chunk_output_;
    queue_.push_always(queued_event(event(std::move(c))));
  }
  if (ec) on_end(ec);
  queue_.wake.notify();
}

// The outputs on stdout as frame outputs, when every one is a single rawvideo stream whose
// frame size is known; nullopt otherwise.
std::optional<std::vector<stdout_framer::frame_output>>
stdout_framer::raw_outputs(const std::vector<const output_info*>& to_stdout) {
  if (to_stdout.empty()) return std::nullopt;
  std::vector<frame_output> outs;
  for (const auto* o : to_stdout) {
    auto streams = meta_.get().output_streams(o->index);
    if (o->format != "rawvideo" || streams.size() != 1 ||
        streams.front()->type != stream_type::video)
      return std::nullopt;
    const auto& s = *streams.front();
    const auto* fmt = find_pixel_format(s.pix_fmt);
    auto size = fmt ? frame_size(*fmt, s.width, s.height) : std::nullopt;
    if (!size || *size == 0) return std::nullopt;
    outs.push_back(frame_output{o->index, s.width, s.height, fmt->name, *size, s.fps, 0,
                                std::make_shared<buffer_pool>(*size, 4)});
  }
  return outs;
}

// Chooses frames or chunks from what stderr said about the outputs.
void stdout_framer::decide() {
  err_.read_now(); // ffmpeg described its outputs on stderr before writing stdout
  if (meta_.settle()) queue_.wake.notify();
  std::vector<const output_info*> to_stdout;
  for (const auto& o : meta_.get().outputs)
    if (o.to_stdout) to_stdout.push_back(&o);
  if (to_stdout.size() == 1) chunk_output_ = to_stdout.front()->index;
  auto outs = raw_outputs(to_stdout);
  if (outs && outs->size() > 1) {
    // Interleaved outputs alternate frame by frame only when their rates match.
    const auto& first = outs->front().fps;
    for (const auto& o : *outs)
      if (!o.fps || !first || std::abs(*o.fps - *first) > 1e-6) {
        queue_.push(error_event{error(errc::protocol,
                                      "several rawvideo outputs on stdout at different frame "
                                      "rates cannot be told apart; reading stdout as chunks")});
        outs.reset();
        break;
      }
  }
  if (outs) {
    std::sort(outs->begin(), outs->end(), [](auto& a, auto& b) { return a.index < b.index; });
    outputs_ = std::move(*outs);
    mode_ = mode::frames;
  } else {
    mode_ = mode::chunks;
  }
  err_.only_run_reads(); // decided: stderr is never read from here again
}

void stdout_framer::emit_frame() {
  auto& o = outputs_[turn_];
  frame f(std::move(current_), o.size);
  f.width = o.width;
  f.height = o.height;
  f.pix_fmt = o.pix_fmt;
  f.output_index = o.index;
  f.number = o.count++;
  if (o.fps && *o.fps > 0)
    f.timestamp = std::chrono::microseconds(
        static_cast<std::int64_t>(static_cast<double>(f.number) * 1e6 / *o.fps));
  filled_ = 0;
  turn_ = (turn_ + 1) % outputs_.size();
  queue_.push_always(queued_event(event(std::move(f))));
}

// Bytes already read (the staged first reads) go where reads would have put them.
void stdout_framer::consume(const std::byte* p, std::size_t n) {
  while (n > 0) {
    if (mode_ == mode::frames) {
      auto& o = outputs_[turn_];
      if (!current_) current_ = pooled_buffer(o.pool);
      auto take = std::min(n, o.size - filled_);
      std::copy_n(p, take, current_.data() + filled_);
      filled_ += take;
      p += take;
      n -= take;
      if (filled_ == o.size) emit_frame();
    } else {
      if (!chunk_pool_) chunk_pool_ = std::make_shared<buffer_pool>(chunk_size, 4);
      pooled_buffer b(chunk_pool_);
      auto take = std::min(n, chunk_pool_->buffer_size());
      std::copy_n(p, take, b.data());
      chunk c(std::move(b), take);
      c.output_index = chunk_output_;
      queue_.push_always(queued_event(event(std::move(c))));
      p += take;
      n -= take;
    }
  }
}

void stdout_framer::stop_reading() noexcept {
  done_ = true;
  err_.only_run_reads();
}

void stdout_framer::on_end(const std::error_code& ec) {
  stop_reading();
  if (mode_ == mode::frames && filled_ > 0) {
    queue_.push(error_event{
        error(errc::protocol, "stdout ended inside a frame (" + std::to_string(filled_) + " of " +
                                  std::to_string(outputs_[turn_].size) + " bytes)")});
    current_.release();
    filled_ = 0;
  }
  if (ec && ec != asio::error::eof && ec != asio::error::operation_aborted)
    queue_.push(error_event{error(ec, "reading " + name_ + "'s stdout")});
  queue_.wake.notify();
}

} // namespace sidecar::detail
