// Fixed-size byte buffers that return to their pool when released: frames and chunks are
// read straight into them, so steady-state reading allocates nothing.
#pragma once

#include <cstddef>
#include <memory>
#include <mutex>
#include <sidecar/export.hpp>
#include <vector>

namespace sidecar::detail {

class SIDECAR_API buffer_pool : public std::enable_shared_from_this<buffer_pool> {
public:
  // Buffers beyond `keep` that come back are freed rather than kept.
  buffer_pool(std::size_t buffer_size, std::size_t keep) : size_(buffer_size), keep_(keep) {}

  std::size_t buffer_size() const noexcept { return size_; }

  std::unique_ptr<std::byte[]> take() {
    {
      std::lock_guard lock(mutex_);
      if (!free_.empty()) {
        auto b = std::move(free_.back());
        free_.pop_back();
        return b;
      }
    }
    return std::make_unique_for_overwrite<std::byte[]>(size_);
  }

  void give_back(std::unique_ptr<std::byte[]> b) noexcept {
    std::lock_guard lock(mutex_);
    if (free_.size() < keep_) free_.push_back(std::move(b));
  }

  std::size_t idle() const {
    std::lock_guard lock(mutex_);
    return free_.size();
  }

private:
  std::size_t size_;
  std::size_t keep_;
  mutable std::mutex mutex_;
  std::vector<std::unique_ptr<std::byte[]>> free_;
};

// A buffer on loan from a pool; going out of scope gives it back.
class SIDECAR_API pooled_buffer {
public:
  pooled_buffer() noexcept = default;
  pooled_buffer(std::shared_ptr<buffer_pool> pool) : pool_(std::move(pool)), data_(pool_->take()) {}
  pooled_buffer(pooled_buffer&&) noexcept = default;
  pooled_buffer& operator=(pooled_buffer&& o) noexcept {
    if (this != &o) {
      release();
      pool_ = std::move(o.pool_);
      data_ = std::move(o.data_);
    }
    return *this;
  }
  ~pooled_buffer() { release(); }

  std::byte* data() const noexcept { return data_.get(); }
  std::size_t capacity() const noexcept { return pool_ ? pool_->buffer_size() : 0; }
  explicit operator bool() const noexcept { return data_ != nullptr; }

  void release() noexcept {
    if (data_ && pool_) pool_->give_back(std::move(data_));
    data_.reset();
    pool_.reset();
  }

private:
  std::shared_ptr<buffer_pool> pool_;
  std::unique_ptr<std::byte[]> data_;
};

} // namespace sidecar::detail
