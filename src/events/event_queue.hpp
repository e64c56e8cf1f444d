// The events waiting for the program: a FIFO bounded for what may be lost (stderr's events
// are dropped past max_events; frames and chunks, read on demand, never are), with
// the text of each event's stderr line kept within a budget, and the signal that wakes the
// one coroutine pulling from it.
#pragma once

#include <sidecar/detail/wakeup.hpp>
#include <sidecar/events.hpp>

#include <asio/any_io_executor.hpp>

#include <algorithm>
#include <cstddef>
#include <optional>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

namespace sidecar::detail {

// A FIFO queue on one growing array: unlike std::deque, pushing and popping in steady state
// never allocates (a deque frees and allocates a block every few elements as it moves). It
// starts small and lets a burst's storage go once the burst has drained.
template <class T> class ring {
public:
  bool empty() const noexcept { return count_ == 0; }
  std::size_t size() const noexcept { return count_; }
  T& front() noexcept { return slots_[head_]; }
  void push_back(T&& v) {
    if (count_ == slots_.size()) grow();
    slots_[(head_ + count_) % slots_.size()] = std::move(v);
    ++count_;
  }
  void pop_front() {
    slots_[head_] = T{}; // release what the element held (frame buffers go back to the pool)
    head_ = (head_ + 1) % slots_.size();
    if (--count_ == 0 && slots_.size() > kept_capacity) {
      // A burst (the header's events, a flood of log lines) has drained: its slots go, so a
      // quiet child holds little. Steady traffic stays within kept_capacity and never
      // reallocates.
      slots_ = std::vector<T>();
      head_ = 0;
    }
  }

  static constexpr std::size_t first_capacity = 4, kept_capacity = 8;

private:
  void grow() {
    std::vector<T> bigger(std::max<std::size_t>(first_capacity, slots_.size() * 2));
    for (std::size_t i = 0; i < count_; ++i)
      bigger[i] = std::move(slots_[(head_ + i) % slots_.size()]);
    slots_ = std::move(bigger);
    head_ = 0;
  }
  std::vector<T> slots_;
  std::size_t head_ = 0, count_ = 0;
};

// One queued event and, when it is the first event of a stderr line, that line's text.
struct queued_event {
  queued_event() = default;
  explicit queued_event(event ev) : e(std::move(ev)) {}

  event e;
  bool starts_line = false;
  std::string line; // empty for a log_line past the text budget: rebuilt from the event then
};

class event_queue {
public:
  static constexpr std::size_t max_events = 1024;
  // Line text kept for stderr_lines() beside queued log_line events; past it, their lines are
  // rebuilt from the events (indentation and the component's address lost), so memory stays
  // bounded by the queue.
  static constexpr std::size_t line_text_budget = 1024 * 1024;

  explicit event_queue(const asio::any_io_executor& ex) : wake(ex) {}

  bool empty() const noexcept { return events_.empty(); }
  std::size_t size() const noexcept { return events_.size(); }
  std::size_t dropped() const noexcept { return dropped_; }

  // Would a log_line's text of n bytes be kept (the queue has room, the budget is not spent)?
  bool keeps_line(std::size_t n) const noexcept {
    return events_.size() < max_events && line_text_bytes_ + n <= line_text_budget;
  }

  // stderr's events past max_events are dropped: bounded memory beats a complete log nobody
  // reads. Wakes the waiter.
  void push(queued_event q) {
    // What stderr says is droppable (metadata stays in metadata()); what stdout carries and
    // error events are not.
    bool droppable = !std::holds_alternative<frame>(q.e) && !std::holds_alternative<chunk>(q.e) &&
                     !std::holds_alternative<error_event>(q.e);
    if (droppable && events_.size() >= max_events) {
      ++dropped_;
      return;
    }
    push_always(std::move(q));
  }
  void push(event e) { push(queued_event(std::move(e))); }

  // Frames and chunks: read only when asked for, so never more than asked and never dropped.
  void push_always(queued_event q) {
    if (std::holds_alternative<log_line>(q.e)) {
      if (line_text_bytes_ + q.line.size() > line_text_budget) q.line = {};
      line_text_bytes_ += q.line.size();
    }
    events_.push_back(std::move(q));
    wake.notify();
  }

  std::optional<queued_event> pop() {
    if (events_.empty()) return std::nullopt;
    std::optional<queued_event> q(std::move(events_.front()));
    events_.pop_front();
    if (std::holds_alternative<log_line>(q->e)) line_text_bytes_ -= q->line.size();
    return q;
  }

  wakeup wake; // the one coroutine pulling events waits here

private:
  ring<queued_event> events_;
  std::size_t dropped_ = 0;
  std::size_t line_text_bytes_ = 0; // of log_line entries' `line`
};

} // namespace sidecar::detail
