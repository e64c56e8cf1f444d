// ffmpeg_child's operations through completion tokens, as an Asio user drives them: a plain
// callback, use_future from another thread, deferred, as_tuple and redirect_error in a
// coroutine, handlers bound to a strand (they run there), and each cancellation type through
// a bound cancellation slot (an error value, never an exception; the child stopped as the
// type asks). Real ffmpeg on lavfi sources; every run under a time limit.
#include <sidecar/ffmpeg_child.hpp>
#include <sidecar/with_timeout.hpp>

#include "support.hpp"

#include <asio/bind_cancellation_slot.hpp>
#include <asio/bind_executor.hpp>
#include <asio/cancellation_signal.hpp>
#include <asio/executor_work_guard.hpp>
#include <asio/experimental/deferred.hpp>
#include <asio/redirect_error.hpp>
#include <asio/steady_timer.hpp>
#include <asio/strand.hpp>

#include <atomic>
#include <csignal>
#include <functional>
#include <optional>
#include <thread>

using namespace sidecar;
using namespace sidecar::test;

namespace {

constexpr int frame_count = 5;

// Five 64x48 rgb24 frames on stdout.
command five_frames() {
  command c;
  c.format("lavfi").input("testsrc=size=64x48:rate=25").frames(frame_count).rawvideo();
  return c;
}

// An ffmpeg that runs until stopped, at the input's pace.
command endless() {
  command c;
  c.realtime().format("lavfi").input("testsrc=size=64x48:rate=25").format("null").output("-");
  return c;
}

// Runs ctx until it runs out of work; a hang fails the test instead of freezing the suite.
void run_limited(asio::io_context& ctx, std::chrono::steady_clock::duration limit = 30s) {
  ctx.run_for(limit);
  REQUIRE(ctx.stopped());
}

} // namespace

TEST_CASE("every ffmpeg_child operation completes through a plain callback", "[tokens]") {
  asio::io_context ctx;
  auto ff = five_frames().spawn(ctx.get_executor());
  REQUIRE(ff);
  std::optional<metadata> meta;
  int frames = 0;
  std::error_code end;
  std::optional<exit_status> status;
  std::error_code wait_ec;
  std::function<void(std::error_code, frame)> on_frame = [&](std::error_code ec, frame f) {
    if (ec) {
      end = ec;
      ff->async_wait([&](std::error_code ec, exit_status st) {
        wait_ec = ec;
        status = st;
      });
      return;
    }
    CHECK(f.width == 64);
    ++frames;
    ff->async_next_frame(on_frame);
  };
  ff->async_metadata([&](std::error_code ec, metadata m) {
    CHECK_FALSE(ec);
    meta = std::move(m);
    ff->async_next_frame(on_frame);
  });
  run_limited(ctx);
  REQUIRE(meta);
  CHECK_FALSE(meta->outputs.empty());
  CHECK(frames == frame_count);
  CHECK(end == asio::error::eof); // the end of the stream, as an error value
  CHECK_FALSE(wait_ec);
  REQUIRE(status);
  CHECK(status->success());

  // A failing run: its error lines, its stderr, its exit status with the error.
  asio::io_context ctx2;
  command missing;
  missing.input("/nonexistent/sidecar-tokens.mp4").format("null").output("-");
  auto bad = missing.spawn(ctx2.get_executor());
  REQUIRE(bad);
  std::vector<log_line> errors;
  bad->async_errors([&](std::error_code ec, std::vector<log_line> e) {
    CHECK_FALSE(ec);
    errors = std::move(e);
    bad->async_wait([&](std::error_code ec, exit_status st) {
      wait_ec = ec;
      status = st;
    });
  });
  run_limited(ctx2);
  REQUIRE_FALSE(errors.empty());
  CHECK(wait_ec == errc::process_failed);
  REQUIRE(status);
  CHECK_FALSE(status->success()); // the exit status comes with the error
  CHECK_FALSE(bad->error_lines().empty());

  asio::io_context ctx3;
  auto again = five_frames().spawn(ctx3.get_executor());
  REQUIRE(again);
  std::vector<std::string> lines;
  int progress_events = 0;
  std::function<void(std::error_code, progress)> on_progress = [&](std::error_code ec, progress) {
    if (ec) {
      CHECK(ec == asio::error::eof);
      again->async_stderr_lines([&](std::error_code ec, std::vector<std::string> l) {
        CHECK_FALSE(ec);
        lines = std::move(l); // nothing left unread: empty is right, the call completes
        wait_ec = std::make_error_code(std::errc::interrupted);
      });
      return;
    }
    ++progress_events;
    again->async_next_progress(on_progress);
  };
  again->async_next_progress(on_progress);
  run_limited(ctx3);
  CHECK(progress_events >= 1); // the final stats line at least
  CHECK(wait_ec == std::errc::interrupted);
  CHECK_FALSE(has_children());
}

TEST_CASE("use_future from another thread: the caller blocks on the result", "[tokens]") {
  asio::io_context ctx;
  auto guard = asio::make_work_guard(ctx);
  auto ff = five_frames().spawn(ctx.get_executor());
  REQUIRE(ff);
  std::thread io([&] { ctx.run_for(30s); });
  int frames = 0;
  std::error_code end;
  std::optional<exit_status> status;
  std::string failure;
  try {
    auto meta = ff->async_metadata(asio::use_future).get();
    if (meta.outputs.empty()) failure = "no outputs in the metadata";
    for (;;) {
      try {
        auto f = ff->async_next_frame(asio::use_future).get();
        if (f.data().size() != 64 * 48 * 3) failure = "a frame of the wrong size";
        ++frames;
      } catch (const std::system_error& e) {
        end = e.code(); // use_future turns the error into an exception, as with Asio's ops
        break;
      }
    }
    status = ff->async_wait(asio::use_future).get();
  } catch (const std::exception& e) {
    failure = e.what();
  }
  // The object ends on its own executor.
  asio::post(ctx, [&] { ff = fail(errc::cancelled, "done"); });
  guard.reset();
  io.join();
  CHECK(failure.empty());
  CHECK(frames == frame_count);
  CHECK(end == asio::error::eof);
  REQUIRE(status);
  CHECK(status->success());
  CHECK_FALSE(has_children());
}

TEST_CASE("deferred, as_tuple and redirect_error: the usual token adapters", "[tokens]") {
  struct seen {
    int events = 0;
    std::error_code end, deferred_ec, wait_ec;
    bool deferred_ran = false;
    exit_status status;
  };
  auto r = run([]() -> asio::awaitable<seen> {
    seen s;
    auto ff = five_frames().spawn(co_await asio::this_coro::executor);
    REQUIRE(ff);
    // deferred: the operation is made now and starts when it is given a handler.
    auto op = ff->async_next_event(asio::experimental::deferred);
    std::move(op)([&](std::error_code ec, event) {
      s.deferred_ec = ec;
      s.deferred_ran = true;
    });
    while (!s.deferred_ran)
      co_await sleep_for(1ms);
    for (;;) {
      auto [ec, e] =
          co_await ff->async_next_event(asio::experimental::as_tuple(asio::use_awaitable));
      if (ec) {
        s.end = ec;
        break;
      }
      ++s.events;
    }
    s.status = co_await ff->async_wait(asio::redirect_error(asio::use_awaitable, s.wait_ec));
    co_return s;
  }());
  CHECK_FALSE(r.deferred_ec);
  CHECK(r.events > frame_count); // the frames and what stderr said
  CHECK(r.end == asio::error::eof);
  CHECK_FALSE(r.wait_ec);
  CHECK(r.status.success());
}

TEST_CASE("a handler bound to a strand runs on it, also when the child has already exited",
          "[tokens]") {
  asio::io_context ctx;
  auto object_strand = asio::make_strand(ctx); // the object's, as README asks for threads
  auto handler_strand = asio::make_strand(ctx);
  std::atomic<int> off_strand{0}, completions{0};
  std::optional<ffmpeg_child> ff;
  std::error_code end, first_wait, second_wait;
  auto on_strand = [&] {
    if (!handler_strand.running_in_this_thread()) ++off_strand;
    ++completions;
  };
  std::function<void(std::error_code, event)> on_event = [&](std::error_code ec, event) {
    on_strand();
    if (!ec) {
      asio::post(object_strand,
                 [&] { ff->async_next_event(asio::bind_executor(handler_strand, on_event)); });
      return;
    }
    end = ec;
    asio::post(object_strand, [&] {
      ff->async_wait(asio::bind_executor(handler_strand, [&](std::error_code ec, exit_status) {
        on_strand();
        first_wait = ec;
        // Reaped already: the result is at hand, and still handed over on the strand.
        asio::post(object_strand, [&] {
          ff->async_wait(asio::bind_executor(handler_strand, [&](std::error_code ec, exit_status) {
            on_strand();
            second_wait = ec;
            asio::post(object_strand, [&] { ff.reset(); });
          }));
        });
      }));
    });
  };
  asio::post(object_strand, [&] {
    auto spawned = five_frames().spawn(object_strand);
    if (!spawned) return;
    ff.emplace(std::move(*spawned));
    ff->async_next_event(asio::bind_executor(handler_strand, on_event));
  });
  std::thread other([&] { ctx.run_for(30s); });
  ctx.run_for(30s);
  other.join();
  CHECK(completions > frame_count + 2);
  CHECK(off_strand == 0);
  CHECK(end == asio::error::eof);
  CHECK_FALSE(first_wait);
  CHECK_FALSE(second_wait);
  CHECK_FALSE(ff);
  CHECK_FALSE(has_children());
}

TEST_CASE("each cancellation type through a bound slot: operation_aborted, the child stopped as "
          "the type asks",
          "[tokens][cancel]") {
  struct outcome {
    std::error_code next, wait;
    exit_status status;
    int events = 0;
  };
  auto cancel_after_events = [](asio::cancellation_type type) {
    asio::io_context ctx;
    outcome out;
    auto ff = endless().spawn(ctx.get_executor());
    REQUIRE(ff);
    asio::cancellation_signal signal;
    // After 10 events, cancels whatever call is pending, every 100 ms until one is cancelled
    // (a call that has completed already, its result on the way, is past cancelling).
    asio::steady_timer timer(ctx);
    std::function<void()> keep_cancelling = [&] {
      timer.expires_after(100ms);
      timer.async_wait([&](std::error_code ec) {
        if (ec || out.next) return;
        signal.emit(type);
        keep_cancelling();
      });
    };
    std::function<void(std::error_code, event)> on_event = [&](std::error_code ec, event) {
      if (!ec) {
        if (++out.events == 10) keep_cancelling();
        ff->async_next_event(asio::bind_cancellation_slot(signal.slot(), on_event));
        return;
      }
      out.next = ec;
      ff->async_wait([&](std::error_code ec, exit_status st) {
        out.wait = ec;
        out.status = st;
      });
    };
    ff->async_next_event(asio::bind_cancellation_slot(signal.slot(), on_event));
    run_limited(ctx);
    return out;
  };
  SECTION("total: ffmpeg is asked to quit") {
    auto out = cancel_after_events(asio::cancellation_type::total);
    CHECK(out.next == asio::error::operation_aborted);
    CHECK(out.wait == errc::cancelled);
    CHECK(out.status.signal == 0); // it quit by itself
  }
  SECTION("partial: SIGTERM") {
    auto out = cancel_after_events(asio::cancellation_type::partial);
    CHECK(out.next == asio::error::operation_aborted);
    CHECK(out.wait == errc::cancelled);
    CHECK_FALSE(out.status.success());
  }
  SECTION("terminal: SIGKILL") {
    auto out = cancel_after_events(asio::cancellation_type::terminal);
    CHECK(out.next == asio::error::operation_aborted);
    CHECK(out.wait == errc::cancelled);
    CHECK(out.status.signal == SIGKILL);
  }
  SECTION("emitted before the call has begun on its executor: it still counts") {
    asio::io_context ctx;
    auto ff = endless().spawn(ctx.get_executor());
    REQUIRE(ff);
    asio::cancellation_signal signal;
    std::error_code next, wait;
    exit_status st;
    ff->async_next_event(
        asio::bind_cancellation_slot(signal.slot(), [&](std::error_code ec, event) {
          next = ec;
          ff->async_wait([&](std::error_code ec, exit_status s) {
            wait = ec;
            st = s;
          });
        }));
    signal.emit(asio::cancellation_type::terminal); // the context is not even running yet
    run_limited(ctx);
    CHECK(next == asio::error::operation_aborted);
    CHECK(wait == errc::cancelled);
    CHECK(st.signal == SIGKILL);
  }
  SECTION("async_wait cancelled itself: errc::cancelled with the exit status") {
    asio::io_context ctx;
    auto ff = endless().spawn(ctx.get_executor());
    REQUIRE(ff);
    asio::cancellation_signal signal;
    std::error_code ec;
    exit_status st;
    ff->async_wait(
        asio::bind_cancellation_slot(signal.slot(), [&](std::error_code e, exit_status s) {
          ec = e;
          st = s;
        }));
    asio::steady_timer timer(ctx, 300ms);
    timer.async_wait([&](std::error_code) { signal.emit(asio::cancellation_type::terminal); });
    run_limited(ctx);
    CHECK(ec == errc::cancelled);
    CHECK(st.signal == SIGKILL);
  }
  CHECK_FALSE(has_children());
}

TEST_CASE("moving an ffmpeg_child while async_errors() runs: it completes", "[tokens]") {
  asio::io_context ctx;
  command missing;
  missing.input("/nonexistent/sidecar-moved.mp4").format("null").output("-");
  auto ff = missing.spawn(ctx.get_executor());
  REQUIRE(ff);
  std::optional<std::vector<log_line>> errors;
  ff->async_errors([&](std::error_code ec, std::vector<log_line> e) {
    CHECK_FALSE(ec);
    errors = std::move(e);
  });
  std::optional<ffmpeg_child> moved(std::move(*ff));
  run_limited(ctx);
  REQUIRE(errors);
  CHECK_FALSE(errors->empty());
  moved.reset();
  CHECK_FALSE(has_children());
}

TEST_CASE("with_timeout passes its caller's cancellation on, with its type", "[tokens][cancel]") {
  struct outcome {
    expected<exit_status> status = fail(errc::cancelled, "not run");
    std::chrono::milliseconds took{0};
  };
  asio::io_context ctx;
  auto ff = endless().spawn(ctx.get_executor());
  REQUIRE(ff);
  asio::cancellation_signal signal;
  std::optional<outcome> out;
  auto t0 = std::chrono::steady_clock::now();
  asio::co_spawn(
      ctx,
      [&]() -> asio::awaitable<outcome> {
        outcome o;
        o.status = co_await with_timeout(ff->wait(), 20s);
        o.took = std::chrono::duration_cast<std::chrono::milliseconds>(
            std::chrono::steady_clock::now() - t0);
        co_return o;
      },
      asio::bind_cancellation_slot(signal.slot(), [&](std::exception_ptr e, outcome o) {
        if (!e) out = std::move(o);
      }));
  asio::steady_timer timer(ctx, 500ms);
  timer.async_wait([&](std::error_code) { signal.emit(asio::cancellation_type::terminal); });
  run_limited(ctx);
  REQUIRE(out);
  REQUIRE_FALSE(out->status);
  CHECK(out->status.error() == errc::cancelled); // the caller's doing, not the 20 s limit
  REQUIRE(out->status.error().status());
  CHECK(out->status.error().status()->signal == SIGKILL); // terminal, as the caller asked
  CHECK(out->took < 5000ms);
  CHECK_FALSE(has_children());
}

TEST_CASE("async_with_timeout: a deferred wait past its limit, from a callback and a future",
          "[tokens][cancel]") {
  SECTION("callback: errc::timed_out with the exit status; ffmpeg quit by itself (`q`)") {
    asio::io_context ctx;
    auto ff = endless().spawn(ctx.get_executor());
    REQUIRE(ff);
    std::optional<std::error_code> ec;
    exit_status st;
    const auto t0 = std::chrono::steady_clock::now();
    std::chrono::steady_clock::duration took{};
    async_with_timeout(ctx.get_executor(), ff->async_wait(asio::experimental::deferred), 500ms,
                       [&](std::error_code e, exit_status s) {
                         ec = e;
                         st = s;
                         took = std::chrono::steady_clock::now() - t0;
                       });
    run_limited(ctx);
    REQUIRE(ec);
    CHECK(*ec == errc::timed_out);
    CHECK(st.success()); // total: asked to quit (`q`), it finished by itself with 0
    CHECK(took >= 500ms);
    CHECK(took < 5s);
  }
  SECTION("use_future from another thread: an operation within its limit gives its value") {
    asio::io_context ctx;
    auto work = asio::make_work_guard(ctx);
    auto ff = five_frames().spawn(ctx.get_executor());
    REQUIRE(ff);
    std::thread runner([&] { ctx.run_for(30s); });
    auto f = async_with_timeout(ctx.get_executor(), ff->async_wait(asio::experimental::deferred),
                                20s, asio::use_future);
    const bool ready = f.wait_for(20s) == std::future_status::ready;
    std::optional<exit_status> st;
    if (ready) st = f.get();
    asio::post(ctx, [&] { ff = fail(errc::cancelled, "done"); }); // ends on its executor
    work.reset();
    runner.join();
    REQUIRE(st);
    CHECK(st->success());
  }
  SECTION("partial, as the `how` argument: SIGTERM at the limit") {
    asio::io_context ctx;
    auto ff = endless().spawn(ctx.get_executor());
    REQUIRE(ff);
    std::optional<std::error_code> ec;
    exit_status st;
    async_with_timeout(ctx.get_executor(), ff->async_wait(asio::experimental::deferred), 300ms,
                       asio::cancellation_type::partial, [&](std::error_code e, exit_status s) {
                         ec = e;
                         st = s;
                       });
    run_limited(ctx);
    REQUIRE(ec);
    CHECK(*ec == errc::timed_out);
    CHECK_FALSE(st.success());
    CHECK(st.signal != SIGKILL); // SIGTERM: ffmpeg's handler ends it (255), no SIGKILL needed
  }
  SECTION("cancelled before it began: operation_aborted, the operation not started") {
    asio::io_context ctx;
    auto ff = endless().spawn(ctx.get_executor());
    REQUIRE(ff);
    asio::cancellation_signal signal;
    std::optional<std::error_code> ec;
    async_with_timeout(ctx.get_executor(), ff->async_wait(asio::experimental::deferred), 20s,
                       asio::bind_cancellation_slot(
                           signal.slot(), [&](std::error_code e, exit_status) { ec = e; }));
    signal.emit(asio::cancellation_type::total); // the context is not even running yet
    const auto t0 = std::chrono::steady_clock::now();
    while (!ec && std::chrono::steady_clock::now() - t0 < 10s)
      ctx.run_one_for(100ms);
    REQUIRE(ec);
    CHECK(*ec == asio::error::operation_aborted);
    CHECK(std::chrono::steady_clock::now() - t0 < 5s);
    CHECK(ff->process().running());        // not waited on, not stopped: the program's to end
    ff = fail(errc::cancelled, "dropped"); // the reaper stops it
    ctx.restart();
    run_limited(ctx);
  }
  SECTION("the handler's own cancellation reaches the operation, with its type") {
    asio::io_context ctx;
    auto ff = endless().spawn(ctx.get_executor());
    REQUIRE(ff);
    asio::cancellation_signal signal;
    std::optional<std::error_code> ec;
    exit_status st;
    async_with_timeout(
        ctx.get_executor(), ff->async_wait(asio::experimental::deferred), 20s,
        asio::bind_cancellation_slot(signal.slot(), [&](std::error_code e, exit_status s) {
          ec = e;
          st = s;
        }));
    asio::steady_timer timer(ctx, 300ms);
    timer.async_wait([&](std::error_code) { signal.emit(asio::cancellation_type::terminal); });
    const auto t0 = std::chrono::steady_clock::now();
    run_limited(ctx);
    REQUIRE(ec);
    CHECK(*ec == errc::cancelled); // the caller's doing, not the 20 s limit
    CHECK(st.signal == SIGKILL);
    CHECK(std::chrono::steady_clock::now() - t0 < 5s);
  }
  CHECK_FALSE(has_children());
}

// Asio's as_default_on needs rebind_executor: the default token then comes from the executor
// type, as with asio::use_awaitable.as_default_on(tcp::socket(...)).
static_assert(std::is_same_v<ffmpeg_child::rebind_executor<asio::io_context::executor_type>::other,
                             basic_ffmpeg_child<asio::io_context::executor_type>>);
static_assert(std::is_same_v<child::rebind_executor<asio::io_context::executor_type>::other,
                             basic_child<asio::io_context::executor_type>>);

TEST_CASE("as_default_on: an ffmpeg_child and a child whose operations need no token", "[tokens]") {
  struct outcome {
    std::error_code meta, end, wait;
    int frames = 0;
    bool success = false, stopped = false;
  };
  auto out = run([]() -> asio::awaitable<outcome> {
    outcome o;
    auto ex = co_await asio::this_coro::executor;
    auto c = five_frames().spawn(ex);
    REQUIRE(c);
    // (ec, T) tuples by default
    auto ff = asio::experimental::as_tuple(asio::use_awaitable).as_default_on(std::move(*c));
    auto [mec, meta] = co_await ff.async_metadata();
    o.meta = mec;
    for (;;) {
      auto [fec, f] = co_await ff.async_next_frame();
      if (fec) {
        o.end = fec;
        break;
      }
      ++o.frames;
    }
    auto [wec, st] = co_await ff.async_wait();
    o.wait = wec;
    o.success = st.success();
    // use_awaitable by default, on a plain child (an ffmpeg that runs until stopped)
    spawn_options so;
    so.program = "ffmpeg";
    so.args = strings("-hide_banner", "-nostats", "-re", "-f", "lavfi", "-i", "testsrc=size=64x64",
                      "-f", "null", "-");
    so.err = stdio::null();
    auto e = child::spawn(ex, so);
    REQUIRE(e);
    auto plain = asio::use_awaitable.as_default_on(std::move(*e));
    auto stopped = co_await plain.async_stop(); // the ladder: `q`, and ffmpeg quits
    o.stopped = stopped.success();              // `q`: it finished by itself with 0
    co_return o;
  }());
  CHECK_FALSE(out.meta);
  CHECK(out.frames == frame_count);
  CHECK(out.end == asio::error::eof);
  CHECK_FALSE(out.wait);
  CHECK(out.success);
  CHECK(out.stopped);
  CHECK_FALSE(has_children());
}
