// A child with predictable behaviour for the process tests; no shell needed.
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <dirent.h>
#include <string>
#include <unistd.h>

namespace {
void sleep_s(double s) {
  ::usleep(static_cast<useconds_t>(s * 1e6));
}
} // namespace

int main(int argc, char** argv) {
  // Run in place of ffmpeg (SIDECAR_FFMPEG), it gets command's guards first: skip them.
  while (argc > 2 && (std::string(argv[1]) == "-loglevel" || std::string(argv[1]) == "-n" ||
                      std::string(argv[1]) == "-y")) {
    int skip = std::string(argv[1]) == "-loglevel" ? 2 : 1;
    argv += skip;
    argc -= skip;
  }
  if (argc < 2) return 100;
  std::string mode = argv[1];
  if (mode == "exit") return std::atoi(argv[2]);
  if (mode == "stderr") { // stderr CODE LINE...: prints the lines to stderr, exits CODE
    for (int i = 3; i < argc; ++i)
      std::fprintf(stderr, "%s\n", argv[i]);
    return std::atoi(argv[2]);
  }
  if (mode == "sleep") {
    sleep_s(std::atof(argv[2]));
    return 0;
  }
  if (mode == "ignore-term") { // ignores SIGTERM and SIGINT: only SIGKILL ends it
    std::signal(SIGTERM, SIG_IGN);
    std::signal(SIGINT, SIG_IGN);
    std::printf("ready\n");
    std::fflush(stdout);
    sleep_s(std::atof(argv[2]));
    return 0;
  }
  if (mode == "quit-on-q") { // like ffmpeg: `q` on stdin ends it with 0
    char c;
    while (::read(0, &c, 1) == 1)
      if (c == 'q') return 0;
    return 7; // stdin closed without q
  }
  if (mode == "fds") { // prints how many descriptors it has open
    int n = 0;
    if (DIR* d = ::opendir("/proc/self/fd")) {
      while (dirent* e = ::readdir(d))
        if (e->d_name[0] != '.') ++n;
      ::closedir(d);
    }
    std::printf("%d\n", n - 1); // less opendir's own
    return 0;
  }
  if (mode == "write-fd") {
    int fd = std::atoi(argv[2]);
    auto n = ::write(fd, argv[3], std::strlen(argv[3]));
    return n < 0 ? 1 : 0;
  }
  if (mode == "env") { // prints the variable's value; unset is exit 3 and no output, so a
                       // missing variable can never pass for a value
    const char* v = std::getenv(argv[2]);
    if (!v) {
      std::fprintf(stderr, "%s is unset\n", argv[2]);
      return 3;
    }
    std::printf("%s\n", v);
    return 0;
  }
  if (mode == "cwd") {
    char buf[4096];
    std::printf("%s\n", ::getcwd(buf, sizeof buf) ? buf : "?");
    return 0;
  }
  if (mode == "grandchild") { // leaves a grandchild in its process group
    pid_t p = ::fork();
    if (p == 0) {
      sleep_s(60);
      _exit(0);
    }
    std::printf("%d\n", static_cast<int>(p));
    std::fflush(stdout);
    sleep_s(60);
    return 0;
  }
  if (mode == "spam-stderr") { // fills stderr then waits for `q`, as a chatty ffmpeg would
    std::string chunk(4096, 'x');
    for (int i = 0; i < std::atoi(argv[2]); ++i)
      if (::write(2, chunk.data(), chunk.size()) < 0) return 9;
    char c;
    while (::read(0, &c, 1) == 1)
      if (c == 'q') return 0;
    return 7;
  }
  if (mode == "print") { // print OUT ERR CODE: OUT bytes of 'o' on stdout, ERR lines "err N"
    std::string out(static_cast<std::size_t>(std::atol(argv[2])), 'o');
    if (!out.empty() && ::write(1, out.data(), out.size()) < 0) return 9;
    for (int i = 0; i < std::atoi(argv[3]); ++i)
      std::fprintf(stderr, "err %d\n", i);
    return std::atoi(argv[4]);
  }
  return 100;
}
