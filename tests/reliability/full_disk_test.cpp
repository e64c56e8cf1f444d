// An HLS output on a full file system: a small tmpfs, else a loop-mounted ext4 image made with
// mkfs.ext4, else a skip (exit 77). Its own program, so that a skip hides no other test.
//
// SIDECAR_TEST_SMALL_FS=tmpfs|ext4 tries only that one (to exercise the fallback where tmpfs
// would work); =none skips.
#include <sidecar/child.hpp>
#include <sidecar/ffmpeg_child.hpp>
#include <sidecar/hls.hpp>

#include "support.hpp"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <optional>
#include <string>
#include <utility>

#include <fcntl.h>
#include <linux/loop.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <unistd.h>

using namespace sidecar;
using namespace sidecar::test;
using asio::awaitable;

namespace {

std::string errno_text(const std::string& what) {
  return what + ": " + std::strerror(errno);
}

// A descriptor closed at the end of its scope.
struct fd_guard {
  int fd = -1;
  ~fd_guard() {
    if (fd >= 0) ::close(fd);
  }
};

bool is_mounted(const std::filesystem::path& p) {
  std::ifstream in("/proc/self/mounts");
  for (std::string dev, at, rest; in >> dev >> at && std::getline(in, rest);)
    if (at == p.string()) return true;
  return false;
}

// mkfs.ext4 on the image file, as a child: no journal (it would not fit), no blocks reserved
// for root (the test runs as root and would fill those too).
std::string make_ext4(const std::filesystem::path& image) {
  std::optional<std::filesystem::path> mkfs;
  for (const char* p : {"/sbin/mkfs.ext4", "/usr/sbin/mkfs.ext4"})
    if (::access(p, X_OK) == 0) mkfs = p;
  if (!mkfs) {
    if (auto found = find_program("mkfs.ext4"))
      mkfs = *found;
    else
      return "mkfs.ext4 not found (/sbin, /usr/sbin, PATH)";
  }
  {
    std::ofstream(image, std::ios::binary).close();
    std::filesystem::resize_file(image, 512 * 1024); // ~470 KiB free: ffmpeg makes ~1.5 MB
  }
  auto st = run(
      [](std::filesystem::path mkfs, std::filesystem::path image) -> awaitable<exit_status> {
        spawn_options o;
        o.program = mkfs;
        o.args = strings("-q", "-F", "-O", "^has_journal", "-m", "0", "-b", "1024", image.string());
        o.in = stdio::null();
        o.out = stdio::null();
        o.err = stdio::inherit(); // its complaint, if any, lands in the test log
        auto c = child::spawn(co_await asio::this_coro::executor, std::move(o));
        if (!c) co_return exit_status::exited(127);
        co_return co_await c->async_wait(asio::use_awaitable);
      }(*mkfs, image),
      30s);
  if (!st.success()) return mkfs->string() + " failed (" + st.to_string() + ")";
  return {};
}

// Attaches the image to a free loop device (detached again automatically once unmounted
// and closed) and mounts it. Empty on success, else why not.
std::string mount_loop(const std::filesystem::path& image, const std::filesystem::path& mnt) {
  fd_guard img{::open(image.c_str(), O_RDWR | O_CLOEXEC)};
  if (img.fd < 0) return errno_text("opening " + image.string());
  fd_guard ctl{::open("/dev/loop-control", O_RDWR | O_CLOEXEC)};
  if (ctl.fd < 0) return errno_text("opening /dev/loop-control");
  for (int attempt = 0; attempt < 5; ++attempt) {
    int n = ::ioctl(ctl.fd, LOOP_CTL_GET_FREE);
    if (n < 0) return errno_text("LOOP_CTL_GET_FREE");
    auto dev = "/dev/loop" + std::to_string(n);
    fd_guard loop{::open(dev.c_str(), O_RDWR | O_CLOEXEC)};
    if (loop.fd < 0) return errno_text("opening " + dev);
    loop_config cfg{};
    cfg.fd = static_cast<std::uint32_t>(img.fd);
    cfg.info.lo_flags = LO_FLAGS_AUTOCLEAR;
    if (::ioctl(loop.fd, LOOP_CONFIGURE, &cfg) != 0) {
      if (errno == EBUSY) continue; // another program took it first
      if (errno != EINVAL && errno != ENOTTY) return errno_text("LOOP_CONFIGURE " + dev);
      // A kernel before 5.8: the two-step way.
      if (::ioctl(loop.fd, LOOP_SET_FD, img.fd) != 0) {
        if (errno == EBUSY) continue;
        return errno_text("LOOP_SET_FD " + dev);
      }
      loop_info64 info{};
      info.lo_flags = LO_FLAGS_AUTOCLEAR;
      if (::ioctl(loop.fd, LOOP_SET_STATUS64, &info) != 0) {
        auto why = errno_text("LOOP_SET_STATUS64 " + dev);
        ::ioctl(loop.fd, LOOP_CLR_FD, 0);
        return why;
      }
    }
    if (::mount(dev.c_str(), mnt.c_str(), "ext4", 0, nullptr) != 0)
      return errno_text("mounting " + dev + " (ext4)"); // closing it detaches (autoclear)
    return {};
  }
  return "no free loop device after 5 tries";
}

// A small file system mounted at `mnt`, unmounted on destruction.
class small_fs {
public:
  // Empty `why` on success.
  static std::optional<small_fs> mount(const std::filesystem::path& mnt,
                                       const std::filesystem::path& image, std::string& why) {
    std::string want =
        std::getenv("SIDECAR_TEST_SMALL_FS") ? std::getenv("SIDECAR_TEST_SMALL_FS") : "";
    if (want == "none") {
      why = "SIDECAR_TEST_SMALL_FS=none";
      return std::nullopt;
    }
    if (want.empty() || want == "tmpfs") {
      if (::mount("tmpfs", mnt.c_str(), "tmpfs", 0, "size=256k") == 0)
        return small_fs(mnt, "tmpfs");
      why = errno_text("tmpfs");
      if (want == "tmpfs") return std::nullopt;
    }
    auto made = make_ext4(image);
    if (made.empty()) made = mount_loop(image, mnt);
    if (made.empty()) return small_fs(mnt, "ext4 image on a loop device");
    why += (why.empty() ? "" : "; ") + made;
    return std::nullopt;
  }

  small_fs(small_fs&& o) noexcept : mnt_(std::exchange(o.mnt_, {})), kind_(std::move(o.kind_)) {}
  small_fs& operator=(small_fs&&) = delete;
  ~small_fs() { unmount(); }
  void unmount() {
    if (mnt_.empty()) return;
    if (::umount2(mnt_.c_str(), 0) != 0) ::umount2(mnt_.c_str(), MNT_DETACH);
    mnt_.clear();
  }
  const std::string& kind() const { return kind_; }

private:
  small_fs(std::filesystem::path mnt, std::string kind)
      : mnt_(std::move(mnt)), kind_(std::move(kind)) {}
  std::filesystem::path mnt_;
  std::string kind_;
};

} // namespace

TEST_CASE("an HLS output on a full file system: no hang, and check_hls says so", "[fault]") {
  auto before = open_fds();
  std::optional<temp_dir> dir(std::in_place);
  const auto root = dir->path();
  auto mnt = *dir / "small";
  std::filesystem::create_directory(mnt);
  std::string why;
  auto fs = small_fs::mount(mnt, *dir / "fs.img", why);
  if (!fs) {
    dir.reset();
    // Catch2 v2 has no SKIP: this program holds only this test, so its exit code can say it.
    std::cout << "skipped: cannot mount a small file system here (" << why << ")" << std::endl;
    std::exit(77);
  }
  INFO("on " << fs->kind());
  std::cout << "full file system: " << fs->kind() << '\n';
  auto st = run(
      [](std::filesystem::path out) -> awaitable<expected<exit_status>> {
        auto ff = command{}
                      .format("lavfi")
                      .input("testsrc=size=640x360:rate=25:duration=20")
                      .codec_video("mpeg2video")
                      .arg("-b:v")
                      .arg("8M")
                      .format("hls")
                      .arg("-hls_time")
                      .arg("1")
                      .arg("-hls_list_size")
                      .arg("0")
                      .arg("-hls_segment_filename")
                      .arg((out / "seg%03d.ts").string())
                      .overwrite()
                      .output((out / "playlist.m3u8").string())
                      .spawn(co_await asio::this_coro::executor);
        REQUIRE(ff);
        co_return co_await ff->wait();
      }(mnt),
      60s);
  // ffmpeg 5.1's HLS muxer ignores its write errors and exits 0 (seen here); whatever it
  // says, the files tell: check_hls() reads the playlist and the segments.
  if (!st) CHECK(st.error().message().find("No space left") != std::string::npos);
  auto hls = check_hls(mnt / "playlist.m3u8");
  REQUIRE_FALSE(hls);
  CHECK(hls.error() == errc::protocol);
  CHECK(hls.error().message().find("No space left on device") != std::string::npos);
  CHECK_FALSE(has_children());
  fs->unmount();
  CHECK_FALSE(is_mounted(mnt));
  dir.reset();
  CHECK_FALSE(std::filesystem::exists(root));
  CHECK(open_fds() == before);
}
