// ffplay reading its stdin, with a headless mode for machines without a display.
#include <sidecar/ffplay.hpp>

#include <cstdlib>

extern char** environ;

namespace sidecar {

namespace {

bool decide_headless(const ffplay_options& o) {
  if (o.headless) return *o.headless;
  auto set = [](const char* name) {
    const char* v = std::getenv(name);
    return v && *v;
  };
  return !set("DISPLAY") && !set("WAYLAND_DISPLAY");
}

} // namespace

command ffplay_command(const ffplay_options& o) {
  auto c = command::ffplay();
  c.hide_banner();
  if (o.autoexit) c.arg("-autoexit");
  if (!o.window_title.empty()) c.arg("-window_title").arg(o.window_title);
  c.args(o.extra_args);
  if (!o.format.empty()) c.format(o.format);
  c.input("-");
  return c;
}

expected<ffmpeg_child> ffplay(const asio::any_io_executor& ex, const ffplay_options& o) {
  spawn_options base;
  base.out = stdio::null();
  if (decide_headless(o)) {
    // SDL's dummy drivers: a window and an audio device that need no hardware. (Not -nodisp:
    // ffplay then refuses a stream with video and no audio.)
    std::vector<std::string> env;
    for (char** e = environ; *e; ++e) {
      std::string_view kv(*e);
      if (kv.starts_with("SDL_AUDIODRIVER=") || kv.starts_with("SDL_VIDEODRIVER=")) continue;
      env.emplace_back(kv);
    }
    env.emplace_back("SDL_AUDIODRIVER=dummy");
    env.emplace_back("SDL_VIDEODRIVER=dummy");
    base.env = std::move(env);
  }
  return ffmpeg_child::spawn(ex, ffplay_command(o), std::move(base));
}

} // namespace sidecar
