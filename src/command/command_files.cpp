// The command's arguments as ffmpeg reads them: inputs and outputs, each with its options.
// Kept up to date argument by argument, so the layers above never parse argv again.
#include <sidecar/command.hpp>

#include <algorithm>
#include <iterator>

namespace sidecar {

namespace {

// Options that take no value, in ffmpeg, ffplay and ffprobe. Any
// other option takes the next argument as its value, as ffmpeg's option table says.
constexpr std::string_view flags[] = {"-accurate_seek",
                                      "-alwaysontop",
                                      "-an",
                                      "-autoexit",
                                      "-autorotate",
                                      "-benchmark",
                                      "-benchmark_all",
                                      "-bitexact",
                                      "-byte_binary_prefix",
                                      "-copyts",
                                      "-count_frames",
                                      "-count_packets",
                                      "-debug_ts",
                                      "-dn",
                                      "-dump",
                                      "-exitonkeydown",
                                      "-exitonmousedown",
                                      "-hex",
                                      "-hide_banner",
                                      "-ignore_unknown",
                                      "-n",
                                      "-noaccurate_seek",
                                      "-noautorotate",
                                      "-noborder",
                                      "-nodisp",
                                      "-nostats",
                                      "-nostdin",
                                      "-pretty",
                                      "-re",
                                      "-report",
                                      "-sexagesimal",
                                      "-show_chapters",
                                      "-show_data",
                                      "-show_error",
                                      "-show_format",
                                      "-show_frames",
                                      "-show_packets",
                                      "-show_private_data",
                                      "-show_programs",
                                      "-show_streams",
                                      "-shortest",
                                      "-sn",
                                      "-start_at_zero",
                                      "-stats",
                                      "-stdin",
                                      "-unit",
                                      "-vn",
                                      "-xerror",
                                      "-y",
                                      "-prefix",
                                      "-copy_unknown",
                                      "-vstats",
                                      "-psnr",
                                      "-copyinkf",
                                      "-fix_sub_duration",
                                      "-recast_media",
                                      "-qphist",
                                      "-find_stream_info",
                                      "-fast",
                                      "-genpts",
                                      "-framedrop",
                                      "-infbuf",
                                      "-show_versions",
                                      "-show_program_version",
                                      "-show_library_versions",
                                      "-show_pixel_formats",
                                      "-print_graphs"};

bool is_flag(std::string_view a, tool which) {
  // -fs is ffplay's full screen, but ffmpeg's file size limit (which takes bytes).
  if (a == "-fs") return which == tool::ffplay;
  auto known = [](std::string_view f) {
    return std::find(std::begin(flags), std::end(flags), f) != std::end(flags);
  };
  if (known(a)) return true;
  // A boolean option negated: -noautorotate, -nostats, -noaccurate_seek.
  return a.size() > 3 && a.substr(0, 3) == "-no" && known(std::string("-").append(a.substr(3)));
}

bool is_option(std::string_view a) {
  return a.size() > 1 && a[0] == '-';
}

const std::string* last_value(const std::vector<command_option>& options,
                              std::initializer_list<std::string_view> names) {
  const std::string* found = nullptr;
  for (const auto& o : options)
    if (o.value && std::find(names.begin(), names.end(), o.name) != names.end()) found = &*o.value;
  return found;
}

} // namespace

const std::string* command_file::value(std::initializer_list<std::string_view> names) const {
  return last_value(options, names);
}

const command_option* command::classify(std::string_view a) {
  // A value is whatever follows its option ("-ss -3" seeks before the end), but `-i` after an
  // option this table does not know to be a flag is taken as the input it surely is.
  if (expect_ == expecting::value && a == "-i") expect_ = expecting::anything;
  switch (expect_) {
  case expecting::value:
    pending_.back().value.emplace(a);
    expect_ = expecting::anything;
    return &pending_.back();
  case expecting::input_url:
    inputs_.push_back(command_file{std::string(a), std::move(pending_)});
    pending_ = {};
    expect_ = expecting::anything;
    return nullptr;
  case expecting::anything:
    break;
  }
  if (a == "-i") {
    expect_ = expecting::input_url;
  } else if (is_option(a)) {
    pending_.push_back(command_option{std::string(a), std::nullopt});
    if (!is_flag(a, which_)) expect_ = expecting::value;
  } else if (which_ == tool::ffmpeg) {
    outputs_.push_back(command_file{std::string(a), std::move(pending_)});
    pending_ = {};
  } else { // ffplay and ffprobe take their input as a URL standing alone
    inputs_.push_back(command_file{std::string(a), std::move(pending_)});
    pending_ = {};
  }
  return nullptr;
}

const std::string* command::option_value(std::initializer_list<std::string_view> names) const {
  const std::string* found = nullptr;
  for (const auto* files : {&inputs_, &outputs_})
    for (const auto& f : *files)
      if (auto* v = f.value(names)) found = v;
  if (auto* v = last_value(pending_, names)) found = v;
  return found;
}

bool command::has_option(std::string_view name) const {
  auto in = [&](const std::vector<command_option>& options) {
    return std::any_of(options.begin(), options.end(), [&](auto& o) { return o.name == name; });
  };
  for (const auto* files : {&inputs_, &outputs_})
    for (const auto& f : *files)
      if (in(f.options)) return true;
  return in(pending_);
}

} // namespace sidecar
