// How sidecar's operations take any completion token (a callback, use_future, deferred,
// as_tuple(use_awaitable), bind_executor, bind_cancellation_slot, redirect_error), the way
// Asio's own async_* functions do. Every async_xxx completes with `void(std::error_code, T)`:
//
// - the error first: 0, an error of the operation, asio::error::eof where a stream of events
//   has ended, asio::error::operation_aborted when it was cancelled (never an exception);
// - the handler runs on its associated executor (a strand it is bound to, say), else on the
//   object's; its associated cancellation slot reaches the operation, every type of
//   cancellation with it (each operation says what each does to the child);
// - the rich error (ffmpeg's exit status and last error lines) stays on the object
//   (ffmpeg_child::error_lines(); a failed async_wait passes the exit status as its T).
//
// The coroutine spellings README shows (`co_await ff->next_event()`, `co_await ff->wait()`)
// stay as the short form of the same operations.
//
// Implementation: the operation is the coroutine the short form runs, spawned on the object's
// executor with the handler as co_spawn's completion (which dispatches to the handler's
// associated executor and forwards its cancellation slot), its result turned into (ec, T).
// Coroutine frames come from Asio's per-thread recycling allocator, not the handler's
// associated allocator.
#pragma once

#include <sidecar/detail/asio_config.hpp>
#include <sidecar/export.hpp>

#include <sidecar/error.hpp>

#include <asio/associated_cancellation_slot.hpp>
#include <asio/associator.hpp>
#include <asio/async_result.hpp>
#include <asio/awaitable.hpp>
#include <asio/cancellation_signal.hpp>
#include <asio/cancellation_state.hpp>
#include <asio/co_spawn.hpp>
#include <asio/error.hpp>
#include <asio/execution/executor.hpp>
#include <asio/is_executor.hpp>
#include <asio/this_coro.hpp>

#include <exception>
#include <memory>
#include <optional>
#include <system_error>
#include <type_traits>
#include <utility>

namespace sidecar::detail {

/// What the free async_xxx functions take as their first argument, as asio::post does.
template <class E>
concept executor_like = asio::execution::is_executor<E>::value || asio::is_executor<E>::value;

/// What a failed operation passes as its T. Specialise for a T that is not default
/// constructible (constructed from the object's executor), or that a failure can still fill.
template <class T> struct failed_value {
  template <class Executor> static T make(const Executor&, const error*) { return T{}; }
};

/// How a coroutine's result reaches the handler as (ec, T): expected<T> (its error's code),
/// optional<T> (nullopt: the stream ended, asio::error::eof) or a plain T (no error).
template <class R> struct completion_traits {
  using value_type = R;
  template <class Handler, class Executor> static void complete(Handler& h, R& r, const Executor&) {
    std::move(h)(std::error_code(), std::move(r));
  }
};
template <class T> struct completion_traits<expected<T>> {
  using value_type = T;
  template <class Handler, class Executor>
  static void complete(Handler& h, expected<T>& r, const Executor& ex) {
    if (r)
      std::move(h)(std::error_code(), std::move(*r));
    else
      std::move(h)(r.error().code(), failed_value<T>::make(ex, &r.error()));
  }
};
template <> struct completion_traits<expected<void>> {
  using value_type = void; ///< void(std::error_code)
  template <class Handler, class Executor>
  static void complete(Handler& h, expected<void>& r, const Executor&) {
    std::move(h)(r ? std::error_code() : r.error().code());
  }
};
template <class T> struct completion_traits<std::optional<T>> {
  using value_type = T;
  template <class Handler, class Executor>
  static void complete(Handler& h, std::optional<T>& r, const Executor& ex) {
    if (r)
      std::move(h)(std::error_code(), std::move(*r));
    else
      std::move(h)(std::error_code(asio::error::eof), failed_value<T>::make(ex, nullptr));
  }
};

/// A value and whether a cancellation cut the operation short: then operation_aborted (the value,
/// what the operation had so far, is dropped), else as R completes.
template <class R> struct or_aborted {
  R value;
  bool aborted = false;
};
template <class R> struct completion_traits<or_aborted<R>> {
  using value_type = typename completion_traits<R>::value_type;
  template <class Handler, class Executor>
  static void complete(Handler& h, or_aborted<R>& r, const Executor& ex) {
    if (!r.aborted) return completion_traits<R>::complete(h, r.value, ex);
    if constexpr (std::is_void_v<value_type>)
      std::move(h)(std::error_code(asio::error::operation_aborted));
    else
      std::move(h)(std::error_code(asio::error::operation_aborted),
                   failed_value<value_type>::make(ex, nullptr));
  }
};

/// The error an exception from the operation stands for: a system_error's code (cancellation
/// is operation_aborted); anything else is not an outcome of the operation and is rethrown
/// from the handler's executor, as an exception from a handler is in Asio.
inline std::error_code error_of(const std::exception_ptr& e) {
  try {
    std::rethrow_exception(e);
  } catch (const std::system_error& x) {
    return x.code();
  }
}

/// The handler's cancellation slot, forwarded to the operation's: a cancellation that comes
/// before the operation can take it (it starts on its executor a moment later) is kept and
/// delivered when it starts, every type of it (co_spawn alone lets only terminal through).
struct SIDECAR_API cancel_forward {
  asio::cancellation_signal signal; ///< the spawned operation's slot
  asio::cancellation_type pending = asio::cancellation_type::none;
  bool armed = false;
};
struct SIDECAR_API cancel_forwarder {
  std::shared_ptr<cancel_forward> f;
  void operator()(asio::cancellation_type type) {
    if (f->armed)
      f->signal.emit(type);
    else
      f->pending = f->pending | type;
  }
};

/// The cancellation that reaches the awaiting coroutine (every type its cancellation state lets
/// through), forwarded to a private signal for a composition whose parts would see only terminal
/// cancellation (awaitable operators, co_spawn): bind the composition to slot(). Each type is
/// passed on as `as`, or as itself when `as` is none. The forward ends with the object, also
/// when the frame holding it is destroyed while suspended. Never reset the coroutine's
/// cancellation state while it forwards (release() first).
///
///   detail::caller_cancellation cancel(co_await asio::this_coro::cancellation_state);
///   co_await asio::co_spawn(ex, (a && b), asio::bind_cancellation_slot(cancel.slot(), tok));
class SIDECAR_API caller_cancellation {
public:
  explicit caller_cancellation(asio::cancellation_state state,
                               asio::cancellation_type as = asio::cancellation_type::terminal)
      : caller_(state.slot()) {
    if (state.cancelled() != asio::cancellation_type::none) *cancelled_ = true;
    if (caller_.is_connected())
      caller_.assign([signal = signal_, cancelled = cancelled_, as](asio::cancellation_type t) {
        *cancelled = true;
        signal->emit(as == asio::cancellation_type::none ? t : as);
      });
  }
  caller_cancellation(const caller_cancellation&) = delete;
  caller_cancellation& operator=(const caller_cancellation&) = delete;
  ~caller_cancellation() { release(); }
  /// What to bind the composition to.
  asio::cancellation_slot slot() { return signal_->slot(); }
  /// The signal itself, for others that end the composition too (a deadline).
  const std::shared_ptr<asio::cancellation_signal>& signal() const noexcept { return signal_; }
  /// Has the caller cancelled (before or since this object was made)?
  bool cancelled() const noexcept { return *cancelled_; }
  /// Ends the forward now. Call it before this_coro::reset_cancellation_state(), which
  /// replaces the state whose slot it holds.
  void release() noexcept {
    if (caller_.is_connected()) caller_.clear();
    caller_ = asio::cancellation_slot();
  }

private:
  std::shared_ptr<asio::cancellation_signal> signal_ =
      std::make_shared<asio::cancellation_signal>();
  std::shared_ptr<bool> cancelled_ = std::make_shared<bool>(false);
  asio::cancellation_slot caller_;
};

/// co_spawn's completion, handing the user's handler (ec, T). Its associated executor and
/// allocator are the handler's; its cancellation slot the forward's (see the associators below).
template <class Handler, class R, class Executor> struct completion_adapter {
  Handler handler;
  Executor ex;
  std::shared_ptr<cancel_forward> cancel; ///< null: the handler has no cancellation slot

  void operator()(std::exception_ptr e, std::optional<R> r) {
    if (cancel) asio::get_associated_cancellation_slot(handler).clear(); // as Asio's ops do
    using traits = completion_traits<R>;
    if (e || !r) { // !r: only with an exception (co_spawn's default value)
      auto ec = e ? error_of(e) : std::error_code(asio::error::operation_aborted);
      if constexpr (std::is_void_v<typename traits::value_type>)
        std::move(handler)(ec);
      else
        std::move(handler)(ec, failed_value<typename traits::value_type>::make(ex, nullptr));
      return;
    }
    traits::complete(handler, *r, ex);
  }
};

template <class R, class Op> struct initiate_spawned {
  template <class Handler, class Executor>
  void operator()(Handler&& handler, const Executor& ex, Op op) const {
    using H = std::decay_t<Handler>;
    std::shared_ptr<cancel_forward> cancel;
    auto slot = asio::get_associated_cancellation_slot(handler);
    if (slot.is_connected()) {
      cancel = std::make_shared<cancel_forward>();
      slot.template emplace<cancel_forwarder>(cancel_forwarder{cancel});
    }
    asio::co_spawn(
        ex,
        [op = std::move(op), cancel]() mutable -> asio::awaitable<std::optional<R>> {
          if (cancel) {
            // The operation tells the cancellation types apart and ends the way each asks;
            // Asio's own throw at its first co_await would skip that.
            co_await asio::this_coro::throw_if_cancelled(false);
            co_await asio::this_coro::reset_cancellation_state(asio::enable_total_cancellation());
            cancel->armed = true;
            if (cancel->pending != asio::cancellation_type::none)
              cancel->signal.emit(cancel->pending); // the operation sees it when it starts
          }
          co_return co_await op();
        },
        completion_adapter<H, R, Executor>{std::forward<Handler>(handler), ex, cancel});
  }
};

template <class T> struct completion_signature { using type = void(std::error_code, T); };
template <> struct completion_signature<void> { using type = void(std::error_code); };

/// Runs op (a callable returning asio::awaitable<R>) as an asynchronous operation on ex,
/// completing with void(std::error_code, T) (void(std::error_code) for expected<void>) through
/// any completion token.
template <class R, class Executor, class Op, class Token>
auto async_spawned(const Executor& ex, Op op, Token&& token) {
  using T = typename completion_traits<R>::value_type;
  return asio::async_initiate<Token, typename completion_signature<T>::type>(
      initiate_spawned<R, Op>{}, token, ex, std::move(op));
}

} // namespace sidecar::detail

namespace asio {

/// The adapter's associated executor and allocator are its handler's; its cancellation slot is
/// the forward's, when the handler has one.
template <template <class, class> class Associator, class Handler, class R, class Executor,
          class DefaultCandidate>
struct associator<Associator, sidecar::detail::completion_adapter<Handler, R, Executor>,
                  DefaultCandidate> : Associator<Handler, DefaultCandidate> {
  static typename Associator<Handler, DefaultCandidate>::type
  get(const sidecar::detail::completion_adapter<Handler, R, Executor>& h,
      const DefaultCandidate& c = DefaultCandidate()) noexcept {
    return Associator<Handler, DefaultCandidate>::get(h.handler, c);
  }
};

template <class Handler, class R, class Executor, class DefaultCandidate>
struct associator<associated_cancellation_slot,
                  sidecar::detail::completion_adapter<Handler, R, Executor>, DefaultCandidate> {
  using type = cancellation_slot;
  static type get(const sidecar::detail::completion_adapter<Handler, R, Executor>& h,
                  const DefaultCandidate& = DefaultCandidate()) noexcept {
    return h.cancel ? h.cancel->signal.slot() : cancellation_slot();
  }
};

} // namespace asio
