// tee(source, sinks...): one byte stream to several sinks at once, with a bounded backlog per
// sink — a slow sink slows the source instead of growing memory — and a failing sink
// reported without stalling the others.
#pragma once

#include <sidecar/detail/asio_config.hpp>
#include <sidecar/export.hpp>

#include <sidecar/detail/wakeup.hpp>
#include <sidecar/error.hpp>
#include <sidecar/relay.hpp>

#include <asio/awaitable.hpp>
#include <asio/bind_cancellation_slot.hpp>
#include <asio/co_spawn.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/this_coro.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <exception>
#include <memory>
#include <optional>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

namespace sidecar {

/// How tee() copies.
struct SIDECAR_API tee_options {
  std::size_t chunk_size = 256 * 1024; ///< bytes per read from the source
  /// Bytes a sink may lag behind the source before the source waits for it.
  std::size_t high_water = 4 * 1024 * 1024;
  /// A sink that fails: drop it and go on with the others, or stop everything.
  enum class on_sink_error {
    drop,                           ///< drop the sink, report it in tee_result, go on
    fail_all,                       ///< stop the tee; the first failure is its error
  } on_error = on_sink_error::drop; ///< what a failing sink does to the others
  /// Half-close every sink at the end (see relay_options::close_sink).
  bool close_sinks = true;
  /// Close the source when the tee ends before its end: cancelled, every sink failed, or
  /// fail_all (see relay_options::close_source).
  bool close_source = true;
};

/// What tee() did: bytes read, the largest backlog, and each sink's share.
struct SIDECAR_API tee_result {
  std::uint64_t bytes = 0; ///< read from the source
  /// The most bytes any sink had waiting for it: at most high_water + chunk_size.
  std::size_t peak_backlog = 0;
  /// One sink's part.
  struct sink_report {
    std::uint64_t bytes = 0;     ///< written to this sink
    std::optional<error> failed; ///< why it was dropped, if it was
  };
  std::vector<sink_report> sinks; ///< in the order given
};

namespace detail {

struct SIDECAR_API tee_chunk {
  std::shared_ptr<std::vector<std::byte>> data;
  std::size_t size = 0;
};

struct SIDECAR_API tee_state {
  explicit tee_state(const asio::any_io_executor& ex, std::size_t n) : wake(ex), sinks(n) {}
  struct sink {
    std::deque<tee_chunk> queue;
    std::size_t queued = 0;
    bool done = false;
  };
  wakeup wake; ///< notify() wakes every waiter
  std::vector<sink> sinks;
  tee_result result;
  std::optional<error> fatal;
  bool source_done = false;
  bool source_eof = false; ///< the source ended: the whole stream was read

  void notify() { wake.notify(); }
  asio::awaitable<void> wait() {
    co_await wake.async_wait(asio::experimental::as_tuple(asio::use_awaitable));
  }
  bool stopping() const { return fatal.has_value(); }
};

template <class Sink>
asio::awaitable<void> tee_writer(tee_state& st, std::size_t i, Sink& sink, bool close) {
  auto& me = st.sinks[i];
  auto& report = st.result.sinks[i];
  for (;;) {
    if (st.stopping()) break;
    if (me.queue.empty()) {
      if (st.source_done) break;
      co_await st.wait();
      continue;
    }
    auto c = me.queue.front();
    auto [ec, n] = co_await asio::async_write(sink, asio::buffer(c.data->data(), c.size),
                                              asio::experimental::as_tuple(asio::use_awaitable));
    report.bytes += n;
    me.queue.pop_front();
    me.queued -= c.size;
    if (ec) {
      report.failed = error(ec, "tee: sink " + std::to_string(i) + " failed after " +
                                    std::to_string(report.bytes) + " bytes");
      me.queue.clear();
      me.queued = 0;
      break;
    }
    st.notify();
  }
  me.done = true;
  if (close) close_sink(sink);
  st.notify();
}

template <class Source>
asio::awaitable<void> tee_reader(tee_state& st, Source& source, const tee_options& o) {
  std::vector<std::shared_ptr<std::vector<std::byte>>> spare;
  auto lagging = [&] {
    return std::any_of(st.sinks.begin(), st.sinks.end(), [&](const tee_state::sink& s) {
      return !s.done && s.queued >= o.high_water;
    });
  };
  auto any_failed = [&] {
    return std::any_of(st.result.sinks.begin(), st.result.sinks.end(),
                       [](const auto& r) { return r.failed.has_value(); });
  };
  for (;;) {
    while (lagging() && !st.stopping())
      co_await st.wait();
    if (o.on_error == tee_options::on_sink_error::fail_all && any_failed()) {
      for (const auto& r : st.result.sinks)
        if (r.failed) st.fatal = *r.failed;
    }
    if (st.stopping()) break;
    if (std::all_of(st.sinks.begin(), st.sinks.end(), [](auto& s) { return s.done; })) {
      st.fatal = error(errc::protocol, "tee: every sink failed");
      break;
    }
    // A buffer no sink holds any more is reused: steady state allocates nothing.
    std::shared_ptr<std::vector<std::byte>> buf;
    for (auto& b : spare)
      if (b.use_count() == 1) {
        buf = b;
        break;
      }
    if (!buf) {
      buf = std::make_shared<std::vector<std::byte>>(o.chunk_size);
      spare.push_back(buf);
    }
    auto [ec, n] = co_await source.async_read_some(
        asio::buffer(*buf), asio::experimental::as_tuple(asio::use_awaitable));
    if (n > 0) {
      st.result.bytes += n;
      for (auto& s : st.sinks) {
        if (s.done) continue;
        s.queue.push_back({buf, n});
        s.queued += n;
        st.result.peak_backlog = std::max(st.result.peak_backlog, s.queued);
      }
      st.notify();
    }
    if (ec == asio::error::eof) {
      st.source_eof = true;
      break;
    }
    if (ec) {
      st.fatal =
          error(ec, "tee: reading the source after " + std::to_string(st.result.bytes) + " bytes");
      break;
    }
  }
  st.source_done = true;
  st.notify();
}

} // namespace detail

/// Copies source to every sink until the source ends. The result says how much each sink took
/// and why a dropped one failed; with on_sink_error::fail_all the first failure is the error.
/// One that ends before the source's end closes the source (tee_options::close_source).
template <class Source, class... Sinks>
asio::awaitable<expected<tee_result>> tee(tee_options options, Source& source, Sinks&... sinks) {
  using namespace asio::experimental::awaitable_operators;
  static_assert(sizeof...(Sinks) >= 1, "tee needs at least one sink");
  auto ex = co_await asio::this_coro::executor;
  detail::source_closer<Source> closer(source, options.close_source);
  detail::tee_state st(ex, sizeof...(Sinks));
  st.result.sinks.resize(sizeof...(Sinks));
  // The caller's cancellation, of every type its state lets through, reaches the reader and
  // the writers as terminal (awaitable operators alone would drop partial and total).
  detail::caller_cancellation cancel(co_await asio::this_coro::cancellation_state);
  if (!cancel.cancelled()) {
    auto [e] = co_await asio::co_spawn(
        ex,
        [&]<std::size_t... I>(std::index_sequence<I...>) {
          return (detail::tee_reader(st, source, options) && ... &&
                  detail::tee_writer(st, I, sinks, options.close_sinks));
        }(std::index_sequence_for<Sinks...>{}),
        asio::bind_cancellation_slot(cancel.slot(),
                                     asio::experimental::as_tuple(asio::use_awaitable)));
    if (e && !cancel.cancelled()) std::rethrow_exception(e); // only bugs throw in it
  }
  if (cancel.cancelled()) // a value, as every sidecar operation reports cancellation
    co_return fail(asio::error::operation_aborted,
                   "tee: cancelled after " + std::to_string(st.result.bytes) + " bytes");
  if (st.source_eof) closer.reached_end();
  // A sink that failed on the last chunks, after the source had ended, fails all too.
  if (!st.fatal && options.on_error == tee_options::on_sink_error::fail_all)
    for (const auto& r : st.result.sinks)
      if (r.failed) {
        st.fatal = *r.failed;
        break;
      }
  if (st.fatal) co_return tl::unexpected(*st.fatal);
  co_return std::move(st.result);
}

/// tee() with the default tee_options.
template <class Source, class... Sinks>
requires(!std::is_same_v<std::remove_cvref_t<Source>, tee_options>)
    asio::awaitable<expected<tee_result>> tee(Source& source, Sinks&... sinks) {
  return tee(tee_options{}, source, sinks...);
}

/// The same through any completion token, on the source's executor, the sinks as a tuple of
/// references (`std::tie(a, b)`): void(std::error_code, tee_result). With on_sink_error::drop
/// a failed sink is in the result, not the error; with fail_all (or a failing source) the error
/// is the first failure's code and the result is empty (the coroutine form's error names the
/// sink and the bytes). Cancelled (any type): asio::error::operation_aborted, the source closed
/// as tee_options::close_source says. Source and sinks must outlive the operation. The reader
/// and the writers run as separate coroutines on the source's executor: a strand, or a
/// context run by one thread (README, "Threads").
template <class Source, class... Sinks,
          class Token = asio::default_completion_token_t<typename Source::executor_type>>
auto async_tee(Source& source, std::tuple<Sinks&...> sinks, tee_options options = {},
               Token&& token = asio::default_completion_token_t<typename Source::executor_type>()) {
  static_assert(sizeof...(Sinks) >= 1, "async_tee needs at least one sink");
  return detail::async_spawned<expected<tee_result>>(
      source.get_executor(),
      [&source, sinks, options] {
        return std::apply([&](Sinks&... s) { return tee(options, source, s...); }, sinks);
      },
      std::forward<Token>(token));
}

} // namespace sidecar
