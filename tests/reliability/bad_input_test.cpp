// Bad input, each a clear sidecar::error with ffmpeg's reason; nothing hangs, nothing leaks.
#include <sidecar/ffmpeg_child.hpp>
#include <sidecar/probe.hpp>

#include "support.hpp"

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <vector>

using namespace sidecar;
using namespace sidecar::test;
using asio::awaitable;

namespace {

awaitable<expected<exit_status>> run_to_end(command cmd) {
  auto ff = cmd.spawn(co_await asio::this_coro::executor);
  REQUIRE(ff);
  co_return co_await ff->wait();
}

// Made at the start of a case, checked at its end: no child left, running or zombie, and
// as many fds open as before.
class leaves_nothing {
public:
  leaves_nothing() : fds_(open_fds()) {}
  void check() const {
    CHECK_FALSE(has_children());
    CHECK(open_fds() == fds_);
  }

private:
  std::size_t fds_;
};

bool mentions(const error& e, std::string_view text) {
  return e.message().find(text) != std::string::npos;
}

awaitable<void> make_mp4(std::filesystem::path out) {
  auto st = co_await run_to_end(command{}
                                    .format("lavfi")
                                    .input("testsrc=duration=2:size=160x120")
                                    .codec_video("libx264")
                                    .pix_fmt("yuv420p")
                                    .overwrite()
                                    .output(out.string()));
  REQUIRE(st);
}

} // namespace

TEST_CASE("a truncated mp4 and a corrupt one fail with ffmpeg's reason", "[bad]") {
  temp_dir dir;
  leaves_nothing guard;
  auto good = dir / "good.mp4", cut = dir / "cut.mp4", bad = dir / "bad.mp4";
  run(make_mp4(good));
  auto size = std::filesystem::file_size(good);
  std::filesystem::copy_file(good, cut);
  std::filesystem::resize_file(cut, size / 3); // the index (moov) at the end is gone
  {
    std::ifstream in(good, std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    for (std::size_t i = 0; i < 64 && i < bytes.size(); ++i)
      bytes[i] = '\x5a';
    std::ofstream(bad, std::ios::binary) << bytes;
  }
  auto a = run(run_to_end(command{}.input(cut.string()).format("null").output("-")));
  REQUIRE_FALSE(a);
  CHECK(a.error() == errc::process_failed);
  CHECK(mentions(a.error(), "moov atom not found"));
  auto b = run(run_to_end(command{}.input(bad.string()).format("null").output("-")));
  REQUIRE_FALSE(b);
  CHECK(mentions(b.error(), "Invalid data found"));
  auto p = run(probe(cut.string()));
  REQUIRE_FALSE(p);
  CHECK(mentions(p.error(), "moov atom not found"));
  guard.check();
}

TEST_CASE("an absurd size is refused by ffmpeg, and said so", "[bad]") {
  leaves_nothing guard;
  auto st = run(run_to_end(command{}
                               .format("lavfi")
                               .input("testsrc=duration=1")
                               .size(100000, 100000)
                               .format("null")
                               .output("-")));
  REQUIRE_FALSE(st);
  CHECK(mentions(st.error(), "100000x100000 is invalid"));
  guard.check();
}

TEST_CASE("non-UTF-8 bytes in a path: passed through, shown replaced", "[bad]") {
  temp_dir dir;
  auto odd = dir / "caf\xe9.mp4"; // Latin-1 é: not UTF-8
  leaves_nothing guard;
  run(make_mp4(odd));
  REQUIRE(std::filesystem::exists(odd));
  // The exact bytes reach ffmpeg: it reads the file.
  auto st = run(run_to_end(command{}.input(odd.string()).format("null").output("-")));
  CHECK(st);
  // A missing one: the error says so, with the bad byte replaced in the text.
  auto missing =
      run(run_to_end(command{}.input((dir / "nope\xff.mp4").string()).format("null").output("-")));
  REQUIRE_FALSE(missing);
  CHECK(mentions(missing.error(), "nope\xEF\xBF\xBD.mp4"));
  CHECK(mentions(missing.error(), "No such file or directory"));
  guard.check();
}

TEST_CASE("a path with a newline: the error keeps ffmpeg's reason, printed after it", "[bad]") {
  temp_dir dir;
  leaves_nothing guard;
  // ffmpeg tags only a message's first line: the reason sits on the untagged second one.
  auto missing =
      run(run_to_end(command{}.input((dir / "no\nsuch.mp4").string()).format("null").output("-")));
  REQUIRE_FALSE(missing);
  CHECK(missing.error() == errc::process_failed);
  CHECK(mentions(missing.error(), "such.mp4"));
  CHECK(mentions(missing.error(), "No such file or directory"));
  guard.check();
}

TEST_CASE("a 1 MiB stderr line without a newline keeps memory bounded", "[bad]") {
  const char* helper = std::getenv("SIDECAR_TEST_HELPER");
  REQUIRE(helper);
  ::setenv("SIDECAR_FFMPEG", helper, 1); // a child that behaves like a chatty ffmpeg
  struct unset {
    ~unset() { ::unsetenv("SIDECAR_FFMPEG"); }
  } restore;
  leaves_nothing guard;
  auto r = run([]() -> awaitable<std::pair<std::size_t, std::size_t>> {
    auto ff = command{}.arg("spam-stderr").arg("256").spawn(co_await asio::this_coro::executor);
    if (!ff) FAIL(ff.error().message());
    std::size_t lines = 0, longest = 0;
    for (;;) {
      auto e = co_await ff->next_event();
      if (!e) break;
      if (auto* l = std::get_if<log_line>(&*e)) {
        ++lines;
        longest = std::max(longest, l->text.size());
        if (lines == 16) ff->quit(); // all of it arrived, cut in bounded lines
      }
    }
    auto st = co_await ff->wait();
    CHECK(st);
    co_return std::pair{lines, longest};
  }());
  CHECK(r.first == 16);
  CHECK(r.second == log_parser::max_line);
  guard.check();
}

TEST_CASE("arguments that look like shell syntax reach ffmpeg untouched", "[bad][security]") {
  temp_dir dir;
  auto out = dir / "title.mkv";
  const std::string title = "; rm -rf / && $(touch pwned) `id` 'quoted' \"double\" | > <";
  leaves_nothing guard;
  auto st = run(run_to_end(command{}
                               .format("lavfi")
                               .input("testsrc=duration=0.2:size=32x32")
                               .arg("-metadata")
                               .arg("title=" + title)
                               .overwrite()
                               .output(out.string())));
  REQUIRE(st);
  auto info = run(probe(out.string()));
  REQUIRE(info);
  CHECK(info->tags["title"] == title);
  CHECK_FALSE(std::filesystem::exists("pwned"));
  CHECK_FALSE(std::filesystem::exists(dir / "pwned"));
  guard.check();
}

namespace {

bool is_identifier_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

// Where `text` calls `name(` as a function of its own (`system(`, `::system(`,
// `std::system(`), not as the tail of a longer name (`filesystem(`, `my_popen(`).
std::vector<std::size_t> calls(const std::string& text, std::string_view name) {
  std::vector<std::size_t> at;
  const std::string needle = std::string(name) + "(";
  for (auto pos = text.find(needle); pos != std::string::npos; pos = text.find(needle, pos + 1))
    if (pos == 0 || !is_identifier_char(text[pos - 1])) at.push_back(pos);
  return at;
}

// Line 1-based of a position, for the failure message.
std::size_t line_of(const std::string& text, std::size_t pos) {
  return 1 + static_cast<std::size_t>(
                 std::count(text.begin(), text.begin() + static_cast<std::ptrdiff_t>(pos), '\n'));
}

} // namespace

TEST_CASE("no shell anywhere: the sources never call one", "[security]") {
  // A grep-able guarantee: no system(), popen(), exec*p() with a shell, or /bin/sh — in the
  // library, in the samples users copy from, and in the helpers the tests share (the test
  // sources themselves are left out: this one names what it looks for).
  const auto root = source_root();
  std::vector<std::filesystem::path> files;
  for (auto dir : {"src", "include", "samples"})
    for (const auto& f : std::filesystem::recursive_directory_iterator(root / dir))
      if (f.is_regular_file()) files.push_back(f.path());
  for (const auto& f : std::filesystem::recursive_directory_iterator(root / "tests"))
    if (f.is_regular_file() && f.path().extension() == ".hpp") files.push_back(f.path());
  // The scan covers what it claims: the shared helpers and a sample are in the list.
  auto listed = [&](const std::filesystem::path& p) {
    return std::find(files.begin(), files.end(), root / p) != files.end();
  };
  CHECK(listed("tests/support.hpp"));
  CHECK(listed("tests/rtmp/rtmp_support.hpp"));
  CHECK(listed("samples/nginx_rtmp_server.hpp"));
  for (const auto& f : files) {
    std::ifstream in(f);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    for (std::string_view fn : {"system", "popen", "execlp", "execvp", "execvpe", "execl"})
      for (auto pos : calls(text, fn)) {
        INFO(f.string() << ':' << line_of(text, pos));
        FAIL_CHECK("calls " << fn << "()");
      }
    for (const char* needle : {"/bin/sh", "\"sh\"", "/bin/bash", "\"bash\""}) {
      INFO(f.string());
      CHECK(text.find(needle) == std::string::npos);
    }
  }
}
