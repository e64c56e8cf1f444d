// A private RTMP server for samples and tests: nginx with the RTMP module, run as a plain
// child process on a free loopback port, with its own config, logs and pid file in a temp dir.
//
// This is the one implementation: samples include it directly; tests include it by relative
// path (tests/nginx_rtmp.hpp adds the suite's skip check, tests/rtmp/rtmp_support.hpp takes
// free_loopback_port). Header-only on purpose, so that samples need nothing but libsidecar.
//
//   auto srv = co_await sidecar_samples::nginx_rtmp_server::start();
//   if (!srv) { std::cerr << srv.error().message() << '\n'; co_return; }
//   publish to srv->url("stream"), play from the same URL, then co_await srv->stop();
#pragma once

#include <sidecar/binary.hpp>
#include <sidecar/child.hpp>
#include <sidecar/error.hpp>

#include <asio/experimental/as_tuple.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/read.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fcntl.h>
#include <unistd.h>

namespace sidecar_samples {

// Binds 127.0.0.1:0 to have the kernel pick a free port, then lets it go for a server to
// bind. Another program may take it in between: a caller that cares tries again.
inline sidecar::expected<unsigned short> free_loopback_port(const asio::any_io_executor& ex) {
  asio::ip::tcp::acceptor a(ex);
  std::error_code ec;
  a.open(asio::ip::tcp::v4(), ec);
  if (!ec) a.bind({asio::ip::address_v4::loopback(), 0}, ec);
  if (ec) return sidecar::fail(ec, "picking a free loopback port");
  auto port = a.local_endpoint(ec).port();
  if (ec) return sidecar::fail(ec, "picking a free loopback port");
  return port;
}

// At namespace scope: a nested struct's member initializers cannot serve a default argument
// of its own enclosing class.
struct nginx_rtmp_options {
  std::string application = "live"; // rtmp://127.0.0.1:PORT/<application>/<stream>
  // How long nginx may take to answer an RTMP handshake after it was started.
  std::chrono::milliseconds start_timeout{10000};
  // Tries with a new free port when another program took the one picked in the meantime.
  int attempts = 5;
  // A port of the caller's choosing instead of a free one (no retry when it is taken).
  unsigned short port = 0;
};

class nginx_rtmp_server {
public:
  using options = nginx_rtmp_options;

  // nginx: $SIDECAR_NGINX, else PATH, else the sbin directories (which a user's PATH often
  // lacks on Debian).
  static sidecar::expected<std::filesystem::path> find_nginx() {
    if (const char* env = std::getenv("SIDECAR_NGINX"); env && *env)
      return sidecar::find_program(env);
    if (auto p = sidecar::find_program("nginx")) return p;
    for (const char* p :
         {"/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/local/nginx/sbin/nginx", "/sbin/nginx"})
      if (::access(p, X_OK) == 0) return std::filesystem::path(p);
    return sidecar::fail(sidecar::errc::binary_not_found,
                         "nginx was not found ($SIDECAR_NGINX, PATH, /usr/sbin, /usr/local/sbin, "
                         "/usr/local/nginx/sbin); install it: apt-get install nginx "
                         "libnginx-mod-rtmp");
  }

  // The RTMP module: $SIDECAR_NGINX_RTMP_MODULE, else where distributions put it.
  static sidecar::expected<std::filesystem::path> find_rtmp_module() {
    std::error_code ec;
    if (const char* env = std::getenv("SIDECAR_NGINX_RTMP_MODULE"); env && *env) {
      if (std::filesystem::is_regular_file(env, ec)) return std::filesystem::path(env);
      return sidecar::fail(sidecar::errc::binary_not_found,
                           std::string("SIDECAR_NGINX_RTMP_MODULE=") + env + " is not a file");
    }
    for (const char* p : {"/usr/lib/nginx/modules/ngx_rtmp_module.so",
                          "/usr/lib64/nginx/modules/ngx_rtmp_module.so",
                          "/usr/share/nginx/modules/ngx_rtmp_module.so",
                          "/usr/local/nginx/modules/ngx_rtmp_module.so",
                          "/usr/local/lib/nginx/modules/ngx_rtmp_module.so"})
      if (std::filesystem::is_regular_file(p, ec)) return std::filesystem::path(p);
    return sidecar::fail(sidecar::errc::binary_not_found,
                         "the nginx RTMP module (ngx_rtmp_module.so) was not found "
                         "($SIDECAR_NGINX_RTMP_MODULE, /usr/lib/nginx/modules, ...); install it: "
                         "apt-get install libnginx-mod-rtmp");
  }

  // An overload, not a default argument: g++ 12 mishandles a coroutine parameter of class
  // type defaulted with `= {}` (it crashed freeing its copy in the coroutine frame).
  static asio::awaitable<sidecar::expected<nginx_rtmp_server>> start() { return start(options{}); }
  // Writes the config into a new temp dir, starts nginx on a free loopback port and
  // completes once nginx answers an RTMP handshake there.
  static asio::awaitable<sidecar::expected<nginx_rtmp_server>> start(options o) {
    auto nginx = find_nginx();
    if (!nginx) co_return tl::unexpected(nginx.error());
    auto module = find_rtmp_module();
    if (!module) co_return tl::unexpected(module.error());
    for (int attempt = 1;; ++attempt) {
      bool port_taken = false;
      auto r = co_await start_once(*nginx, *module, o, port_taken);
      // Lost the race for the port: another program bound it after we let it go. Try anew.
      if (r || !port_taken || o.port || attempt >= o.attempts) co_return std::move(r);
    }
  }

  nginx_rtmp_server(nginx_rtmp_server&&) noexcept = default;
  nginx_rtmp_server& operator=(nginx_rtmp_server&&) = delete;
  // A server still running is handed to the child's reaper, which sends SIGTERM at once
  // (exit_request::sigterm), waits for it (SIGKILL if need be) and reaps it; the temp dir
  // goes meanwhile (the files nginx still has open live on until it exits).
  ~nginx_rtmp_server() = default;

  unsigned short port() const noexcept { return port_; }
  const std::string& application() const noexcept { return application_; }
  // rtmp://127.0.0.1:PORT/APPLICATION/STREAM: where to publish, and where to play it from.
  std::string url(std::string_view stream = "stream") const {
    return "rtmp://127.0.0.1:" + std::to_string(port_) + "/" + application_ + "/" +
           std::string(stream);
  }
  const std::filesystem::path& directory() const noexcept { return dir_.path; }
  std::filesystem::path config_path() const { return dir_.path / "nginx.conf"; }
  pid_t pid() const noexcept { return process_ ? process_->id() : -1; }
  bool running() const noexcept { return process_ && process_->running(); }

  // nginx's error log (info level: connects, publishes, plays, errors), for diagnostics.
  std::string error_log() const {
    std::ifstream in(dir_.path / "error.log");
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
  }
  // Lines of the error log and stderr at [warn] and worse, else the last few lines.
  std::vector<std::string> error_lines() const {
    std::vector<std::string> all, bad;
    for (const char* name : {"stderr.log", "error.log"}) {
      std::ifstream in(dir_.path / name);
      for (std::string line; std::getline(in, line);) {
        if (line.empty()) continue;
        all.push_back(line);
        for (std::string_view lvl : {"[emerg]", "[alert]", "[crit]", "[error]", "[warn]"})
          if (line.find(lvl) != std::string::npos) {
            bad.push_back(line);
            break;
          }
      }
    }
    auto& from = bad.empty() ? all : bad;
    auto n = std::min<std::size_t>(from.size(), 8);
    return {from.end() - static_cast<std::ptrdiff_t>(n), from.end()};
  }

  // SIGTERM and reap (SIGKILL if it ignores that). The temp dir stays until destruction, so
  // the logs can still be read.
  asio::awaitable<sidecar::expected<sidecar::exit_status>> stop() {
    if (!process_) co_return sidecar::fail(sidecar::errc::bad_argument, "nginx was not started");
    if (!process_->running()) co_return *process_->status();
    process_->terminate();
    auto r = co_await process_->async_stop(asio::experimental::as_tuple(asio::use_awaitable));
    if (auto ec = std::get<0>(r)) co_return sidecar::fail(ec, "stopping nginx");
    co_return std::get<1>(r);
  }

private:
  // A temp dir owned by one object, removed with everything in it.
  struct private_dir {
    std::filesystem::path path;
    static sidecar::expected<private_dir> make() {
      std::error_code ec;
      auto base = std::filesystem::temp_directory_path(ec);
      if (ec) return sidecar::fail(ec, "finding the temp directory");
      // The pid in the name tells whose it is (tests check that theirs are gone).
      std::string tmpl =
          (base / ("sidecar-nginx-" + std::to_string(::getpid()) + "-XXXXXX")).string();
      if (!::mkdtemp(tmpl.data()))
        return sidecar::fail_errno("creating a temp dir for nginx", errno);
      return private_dir{tmpl};
    }
    private_dir(std::filesystem::path p) : path(std::move(p)) {}
    private_dir(private_dir&& o) noexcept : path(std::exchange(o.path, {})) {}
    private_dir& operator=(private_dir&&) = delete;
    ~private_dir() {
      // An nginx still exiting deletes its pid file meanwhile, and remove_all gives up on
      // an entry that vanished under it: go again.
      std::error_code ec;
      for (int i = 0; i < 10 && !path.empty() && std::filesystem::exists(path, ec); ++i)
        std::filesystem::remove_all(path, ec);
    }
  };

  nginx_rtmp_server(private_dir dir, unsigned short port, std::string application)
      : dir_(std::move(dir)), port_(port), application_(std::move(application)) {}

  // One try on a port picked now. port_taken: nginx could not bind it.
  static asio::awaitable<sidecar::expected<nginx_rtmp_server>>
  start_once(std::filesystem::path nginx, std::filesystem::path module, options o,
             bool& port_taken) {
    using namespace asio::experimental::awaitable_operators;
    auto ex = co_await asio::this_coro::executor;
    auto dir = private_dir::make();
    if (!dir) co_return tl::unexpected(dir.error());
    auto port = o.port ? sidecar::expected<unsigned short>(o.port) : free_loopback_port(ex);
    if (!port) co_return tl::unexpected(port.error());
    nginx_rtmp_server srv(std::move(*dir), *port, o.application);
    if (auto w = srv.write_config(module); !w) co_return tl::unexpected(w.error());

    // nginx's stderr goes to a file: nobody has to drain it, and it is there to read.
    int err_fd = ::open((srv.directory() / "stderr.log").c_str(),
                        O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (err_fd < 0) co_return sidecar::fail_errno("creating nginx's stderr.log", errno);
    sidecar::spawn_options so;
    so.program = nginx;
    // -e: the early error log, before the config's error_log applies (nginx >= 1.19.5);
    // otherwise a build whose default is /var/log/nginx/error.log needs that directory.
    auto prefix = srv.directory().string() + "/";
    auto early_log = (srv.directory() / "error.log").string();
    so.args = {"-p", prefix, "-c", srv.config_path().string(), "-e", early_log};
    so.in = sidecar::stdio::null();
    so.out = sidecar::stdio::null();
    so.err = sidecar::stdio::from_fd(err_fd);
    so.exit_how = sidecar::exit_request::sigterm; // nginx exits at once on SIGTERM
    so.ladder = {std::chrono::milliseconds(2000), std::chrono::milliseconds(2000)};
    auto proc = sidecar::child::spawn(ex, std::move(so));
    ::close(err_fd);
    if (!proc) co_return tl::unexpected(proc.error());
    srv.process_.emplace(std::move(*proc));

    auto deadline = std::chrono::steady_clock::now() + o.start_timeout;
    auto r =
        co_await (srv.process_->async_wait(asio::experimental::as_tuple(asio::use_awaitable)) ||
                  wait_until_answering(srv.pid(), *port, deadline));
    if (r.index() == 1) {
      if (std::get<1>(r)) co_return std::move(srv);
      auto lines = srv.error_lines();
      co_await srv.stop();
      std::string msg = "nginx did not answer on 127.0.0.1:" + std::to_string(*port) + " within " +
                        std::to_string(o.start_timeout.count()) + " ms";
      for (auto& l : lines)
        msg += "\n  " + l;
      co_return sidecar::fail(sidecar::errc::timed_out, msg);
    }
    auto& waited = std::get<0>(r);
    if (auto ec = std::get<0>(waited)) co_return sidecar::fail(ec, "waiting for nginx");
    port_taken = srv.log_mentions("Address already in use");
    co_return tl::unexpected(sidecar::error::process_failed(
        "nginx exited while starting (" + srv.command_line(nginx) + ")", std::get<1>(waited),
        srv.error_lines()));
  }

  // A string for nginx.conf: quoted, with the characters special inside quotes escaped.
  static std::string quoted(const std::string& s) {
    std::string out = "\"";
    for (char c : s) {
      if (c == '"' || c == '\\' || c == '$') out.push_back('\\');
      out.push_back(c);
    }
    return out + "\"";
  }

  sidecar::expected<void> write_config(const std::filesystem::path& module) const {
    auto in_dir = [&](const char* name) { return quoted((dir_.path / name).string()); };
    std::ofstream conf(config_path());
    // No `user` directive: with master_process off nginx never switches user, so this runs
    // the same as root (no www-data/nobody needed) and as anyone else (where `user` would
    // only draw a warning). No http block: nothing then wants /var/lib/nginx temp paths.
    conf << "# Generated by sidecar's nginx_rtmp_server; removed with this directory.\n"
         << "load_module " << quoted(module.string()) << ";\n"
         << "daemon off;\n"
         << "master_process off;\n"
         << "worker_processes 1;\n"
         << "pid " << in_dir("nginx.pid") << ";\n"
         << "lock_file " << in_dir("nginx.lock") << ";\n"
         << "error_log " << in_dir("error.log") << " info;\n"
         << "events {\n  worker_connections 256;\n}\n"
         << "rtmp {\n"
         << "  access_log " << in_dir("access.log") << ";\n"
         << "  server {\n"
         << "    listen 127.0.0.1:" << port_ << ";\n"
         << "    chunk_size 4096;\n"
         << "    application " << application_ << " {\n"
         << "      live on;\n"
         << "      record off;\n"
         << "      wait_key on;\n"   // a player starts at a keyframe it can decode
         << "      wait_video on;\n" // and gets no audio before that first video frame
         << "    }\n"
         << "  }\n"
         << "}\n";
    conf.close();
    if (!conf) return sidecar::fail_errno("writing " + config_path().string(), errno);
    return {};
  }

  std::string command_line(const std::filesystem::path& nginx) const {
    return nginx.string() + " -p " + dir_.path.string() + "/ -c " + config_path().string();
  }

  bool log_mentions(std::string_view what) const {
    for (const char* name : {"stderr.log", "error.log"}) {
      std::ifstream in(dir_.path / name);
      for (std::string line; std::getline(in, line);)
        if (line.find(what) != std::string::npos) return true;
    }
    return false;
  }

  // Does an RTMP server answer on the port? Sends the client's C0+C1 handshake and waits for
  // S0 (version 3): a bare TCP connect succeeds as soon as the socket listens, before nginx's
  // event loop runs.
  static asio::awaitable<bool> rtmp_answers(unsigned short port) {
    using asio::experimental::as_tuple;
    auto ex = co_await asio::this_coro::executor;
    asio::ip::tcp::socket s(ex);
    auto c = co_await s.async_connect({asio::ip::address_v4::loopback(), port},
                                      as_tuple(asio::use_awaitable));
    if (std::get<0>(c)) co_return false;
    std::array<unsigned char, 1 + 1536> c0c1{};
    c0c1[0] = 3;
    auto w = co_await asio::async_write(s, asio::buffer(c0c1), as_tuple(asio::use_awaitable));
    if (std::get<0>(w)) co_return false;
    std::array<unsigned char, 1> s0{};
    auto r = co_await asio::async_read(s, asio::buffer(s0), as_tuple(asio::use_awaitable));
    co_return !std::get<0>(r) && s0[0] == 3;
  }

  // Is the socket listening on 127.0.0.1:port one of pid's? While nginx retries a bind that
  // failed (for 2.5 s), whoever took the port would answer the probe in its place. Linux:
  // /proc/net/tcp names the listening socket's inode, /proc/PID/fd links to the inodes pid
  // holds. Without /proc there is no telling: taken as yes.
  static bool listens_on(pid_t pid, unsigned short port) {
    std::ifstream tcp("/proc/net/tcp");
    if (!tcp) return true;
    char local[16];
    std::snprintf(local, sizeof local, "0100007F:%04X", static_cast<unsigned>(port));
    std::string inode;
    for (std::string line; inode.empty() && std::getline(tcp, line);) {
      std::istringstream fields(line);
      std::string slot, addr, remote, state, queues, timer, retransmits, uid, timeout, node;
      fields >> slot >> addr >> remote >> state >> queues >> timer >> retransmits >> uid >>
          timeout >> node;
      if (addr == local && state == "0A") inode = node; // 0A: LISTEN
    }
    if (inode.empty()) return false;
    std::error_code ec;
    auto fds = "/proc/" + std::to_string(pid) + "/fd";
    for (auto& e : std::filesystem::directory_iterator(fds, ec))
      if (std::filesystem::read_symlink(e.path(), ec).string() == "socket:[" + inode + "]")
        return true;
    return false;
  }

  static asio::awaitable<bool>
  wait_until_answering(pid_t pid, unsigned short port,
                       std::chrono::steady_clock::time_point deadline) {
    using namespace asio::experimental::awaitable_operators;
    using asio::experimental::as_tuple;
    auto ex = co_await asio::this_coro::executor;
    asio::steady_timer pause(ex);
    while (std::chrono::steady_clock::now() < deadline) {
      asio::steady_timer limit(ex, std::chrono::milliseconds(1000));
      if (listens_on(pid, port)) {
        auto r = co_await (rtmp_answers(port) || limit.async_wait(as_tuple(asio::use_awaitable)));
        if (r.index() == 0 && std::get<0>(r)) co_return true;
      }
      pause.expires_after(std::chrono::milliseconds(20));
      co_await pause.async_wait(as_tuple(asio::use_awaitable));
    }
    co_return false;
  }

  private_dir dir_; // declared first: destroyed after the process is handed to the reaper
  unsigned short port_ = 0;
  std::string application_;
  std::optional<sidecar::child> process_;
};

} // namespace sidecar_samples
