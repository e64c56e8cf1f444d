// The log layer: ffmpeg's stderr bytes in, typed events out. Pure — no Asio, no I/O — so it
// is testable and fuzzable alone. Feed it any slicing of the byte stream; it gives the same
// events as for the whole stream at once.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <sidecar/export.hpp>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

namespace sidecar {

/// The level ffmpeg printed with `-loglevel level+...` ("[info]", "[warning]", …); unknown
/// when the line had no level prefix.
enum class log_level { panic, fatal, error, warning, info, verbose, debug, trace, unknown };

/// "error", "warning", ... as ffmpeg prints them; "unknown".
SIDECAR_API std::string_view to_string(log_level level) noexcept;
/// "warning" → log_level::warning; unknown for anything else.
SIDECAR_API log_level parse_log_level(std::string_view name) noexcept;
/// The level a `-loglevel` / `-v` value sets, as ffmpeg's number (info = 32, error = 16):
/// flags first ("repeat+level+info", "+level", "-repeat"), then a name or a number. nullopt
/// when the value sets flags only or is not a level.
SIDECAR_API std::optional<int> parse_loglevel_value(std::string_view value);

/// ffmpeg's time syntax, as on stats lines and in -ss/-t/-to: "12.5", "90", "00:01:02.5",
/// "-00:00:00.04", "1:02"; nullopt for N/A and anything else.
SIDECAR_API std::optional<std::chrono::microseconds> parse_ffmpeg_time(std::string_view text);

/// The bytes with every sequence that is not UTF-8 replaced by U+FFFD, as in every event's text.
SIDECAR_API std::string repair_utf8(std::string_view bytes);

/// Where a version_info's numbers come from.
enum class version_origin {
  banner,    ///< the release number printed in the banner ("5.1.8-0+deb12u1", "n7.0")
  libraries, ///< a git or static build ("N-47683-g0e8eb07980-static"): the release its
             ///< libavutil belongs to (version_from_libraries)
  unknown    ///< neither: major/minor stay -1
};
/// "banner", "libraries", "unknown".
SIDECAR_API std::string_view to_string(version_origin o) noexcept;

/// `ffmpeg version 5.1.8-0+deb12u1 Copyright (c) 2000-2025 the FFmpeg developers`
struct SIDECAR_API version_info {
  std::string version;   ///< "5.1.8-0+deb12u1", "n7.0", "N-113296-g…" (git builds)
  int major = -1;        ///< 5; -1 when the version is not numeric (git builds)
  int minor = -1;        ///< 1
  int micro = -1;        ///< 8, or -1 when absent
  std::string copyright; ///< "Copyright (c) 2000-2025 the FFmpeg developers", may be empty
  version_origin origin = version_origin::unknown; ///< where the numbers came from

  /// True when the release is known and is major.minor or newer.
  bool at_least(int want_major, int want_minor) const noexcept {
    return major > want_major || (major == want_major && minor >= want_minor);
  }
};

/// `configuration: --prefix=/usr --enable-gpl …`
struct SIDECAR_API configuration_info {
  std::vector<std::string> flags; ///< "--prefix=/usr", "--enable-gpl", …
};

/// `libavcodec     59. 37.100 / 59. 37.100`
struct SIDECAR_API library_version {
  std::string name;     ///< "libavcodec"
  std::string compiled; ///< "59.37.100"
  std::string runtime;  ///< "59.37.100"
};

/// `Input #0, lavfi, from 'testsrc=duration=1':`
struct SIDECAR_API input_info {
  int index = 0;      ///< the N of `Input #N`
  std::string format; ///< "lavfi", "mov,mp4,m4a,3gp,3g2,mj2"
  std::string url;    ///< as printed, between the quotes
};

/// `  Duration: 00:00:01.00, start: 0.000000, bitrate: N/A` — follows its Input line.
struct SIDECAR_API duration_info {
  int input_index = 0;                               ///< the input it belongs to
  std::optional<std::chrono::microseconds> duration; ///< nullopt for N/A
  std::optional<std::chrono::microseconds> start;    ///< nullopt for N/A
  std::optional<double> bitrate_kbps;                ///< nullopt for N/A
};

/// The kind of a stream, from the word after its id (`Video:`, `Audio:`, ...).
enum class stream_type { video, audio, subtitle, data, attachment, unknown };
/// "video", "audio", "subtitle", "data", "attachment", "unknown".
SIDECAR_API std::string_view to_string(stream_type type) noexcept;

/// `  Stream #0:1[0x2](eng): Audio: aac (LC) (mp4a / 0x6134706D), 44100 Hz, stereo, fltp, 128 kb/s`
struct SIDECAR_API stream_info {
  bool is_output = false;                  ///< under an `Output` header, else an `Input` one
  int file_index = 0;                      ///< the N of `Input #N` / `Output #N`
  int stream_index = 0;                    ///< the S of `Stream #N:S`
  std::string id;                          ///< "0x2" from `[0x2]`, empty if none
  std::string language;                    ///< "eng" from `(eng)`, empty if none
  stream_type type = stream_type::unknown; ///< from `Video:`, `Audio:`, ...
  std::string codec;                       ///< "h264", "rawvideo", "aac", "pcm_s16le", "subrip"
  std::string details;                     ///< the whole text after "<Type>: "
  std::string pix_fmt;                     ///< video: "yuv420p", "rgb24"
  int width = 0;                           ///< video: pixels, 0 when not printed
  int height = 0;                          ///< video: pixels, 0 when not printed
  std::optional<double> fps;               ///< "25 fps", else "25 tbr"
  int sample_rate = 0;                     ///< audio: 44100
  std::string channel_layout;              ///< "stereo", "mono", "5.1(side)", "1 channels"
  std::string sample_format;               ///< "fltp", "s16"
};

/// One line under `Stream mapping:` — `  Stream #0:0 -> #0:0 (h264 (native) -> rawvideo (native))`
/// or `  Stream #0:1 -> #0:1 (copy)`. Lines of other shapes (filter graphs) keep only `text`.
struct SIDECAR_API stream_mapping_entry {
  int input_file = -1;    ///< the N of `Stream #N:S ->`, -1 for other shapes
  int input_stream = -1;  ///< the S of `Stream #N:S ->`
  int output_file = -1;   ///< the N of `-> #N:S`
  int output_stream = -1; ///< the S of `-> #N:S`
  bool copy = false;      ///< `(copy)`: stream copy, no transcoding
  std::string text;       ///< the whole line, trimmed
};

/// `Output #0, rawvideo, to 'pipe:':`
struct SIDECAR_API output_info {
  int index = 0;          ///< the N of `Output #N`
  std::string format;     ///< "rawvideo", "mp4", "hls"
  std::string url;        ///< as printed, between the quotes
  bool to_stdout = false; ///< url is "pipe", "pipe:", "pipe:1", "-" or "/dev/stdout"
};

/// A stats line (`frame=  250 fps=… size=… time=… bitrate=… speed=…`, with `\r`), or one
/// block of `-progress` key=value output. Fields ffmpeg printed as N/A stay empty. The last
/// one of a run has `final` set: from `Lsize=`/`Lq=`, from `progress=end`, or repeated once
/// from the summary line ffmpeg prints at the end (`video:…kB audio:…kB … muxing overhead`).
struct SIDECAR_API progress {
  std::optional<std::uint64_t> frame;               ///< frames written so far (`frame=`)
  std::optional<double> fps;                        ///< frames per second of the encoding (`fps=`)
  std::optional<double> q;                          ///< the first video stream's quantizer (`q=`)
  std::optional<std::uint64_t> size_bytes;          ///< kB/KiB × 1024 on stats lines
  std::optional<std::chrono::microseconds> time;    ///< may be negative
  std::optional<double> bitrate_kbps;               ///< `bitrate=`, kbit/s
  std::optional<double> speed;                      ///< 1.0 = realtime
  std::optional<std::uint64_t> dup;                 ///< frames duplicated (`dup=`)
  std::optional<std::uint64_t> drop;                ///< frames dropped (`drop=`)
  std::optional<std::chrono::microseconds> elapsed; ///< ffmpeg 7: elapsed=0:00:12.59
  bool final = false;                               ///< `Lsize=` line / `progress=end`
  /// Filled by the event stream, not the parser: share of the known total, 0 to 100.
  std::optional<double> percent;
  /// Filled by the event stream, not the parser: time left at the current speed.
  std::optional<std::chrono::microseconds> eta;
};

/// Any other line, with its level and the component tag it had (`[libx264 @ 0x55…]` →
/// "libx264 @ 0x55…"), both stripped from the text.
struct SIDECAR_API log_line {
  /// From the `[level]` tag. ffmpeg tags only a message's first line: in a tagged stderr, an
  /// untagged line (the rest of a message with a newline in it, e.g. in a path) takes the
  /// level of the line before it.
  log_level level = log_level::unknown;
  std::string component; ///< "libx264 @ 0x55…", empty when untagged
  std::string text;      ///< the line without tags, secrets masked (in the event stream)
};

/// What the parser makes of one stderr line (the event stream adds frames, chunks, errors).
using log_event =
    std::variant<version_info, configuration_info, library_version, input_info, duration_info,
                 stream_info, stream_mapping_entry, output_info, progress, log_line>;

/// Incremental parser of ffmpeg's stderr. Lines end at LF or CR; a partial line waits for
/// the next feed; a line longer than max_line is cut there (the rest is a new line), so memory
/// stays bounded; bytes that are not UTF-8 are replaced by U+FFFD in the text of events.
class SIDECAR_API log_parser {
public:
  /// The longest line kept whole, in bytes; longer ones are cut here.
  static constexpr std::size_t max_line = 64 * 1024;
  /// A sink as a std::function, for callers that store one.
  using sink = std::function<void(log_event&&)>;

  /// Parses every complete line in bytes, calling sink for each event, in order.
  template <class Sink> void feed(std::string_view bytes, Sink&& s) {
    feed_impl(bytes, sink_ref(s));
  }
  /// End of stream: the partial line left (if any) is parsed as a line.
  template <class Sink> void finish(Sink&& s) { finish_impl(sink_ref(s)); }
  /// Parses one complete line (without its line ending, at most max_line bytes), for a caller
  /// that splits stderr into lines itself — the event stream does, to know each event's line:
  /// the events feed() gives for that line, without splitting or copying it again. Not to be
  /// mixed with feed() on one parser; finish() still ends the stream.
  template <class Sink> void feed_line(std::string_view text, Sink&& s) { line(text, sink_ref(s)); }

  /// Lines (events) seen so far.
  std::uint64_t lines() const noexcept { return lines_; }
  /// Lines cut for being longer than max_line.
  std::uint64_t cut_lines() const noexcept { return cut_; }
  /// Bytes of line text parsed so far (line endings not counted): every byte once.
  std::uint64_t bytes_parsed() const noexcept { return bytes_; }
  /// Where the last line's `[level] ` tag stood in it (offset, length; length 0 when it had
  /// none), so a caller can show the line without the tag the builder asked for.
  std::pair<std::size_t, std::size_t> last_level_tag() const noexcept { return tag_; }
  /// The line being parsed (without its line ending): valid inside the sink only, for a caller
  /// that wants each event's line as printed. lines_fed() counts the lines parsed so far, so a
  /// sink tells the first event of a line from the next ones.
  std::string_view current_line() const noexcept { return current_; }
  /// Lines parsed so far (see current_line()).
  std::uint64_t lines_fed() const noexcept { return fed_; }

private:
  /// A non-owning callable reference, so feed() does not allocate per call.
  struct sink_ref {
    template <class F>
    sink_ref(F& f)
        : obj(const_cast<void*>(static_cast<const void*>(&f))),
          call([](void* o, log_event&& e) { (*static_cast<F*>(o))(std::move(e)); }) {}
    void operator()(log_event&& e) const { call(obj, std::move(e)); }
    void* obj;
    void (*call)(void*, log_event&&);
  };

  void feed_impl(std::string_view bytes, sink_ref s);
  void finish_impl(sink_ref s);
  void line(std::string_view text, sink_ref s);
  /// line()'s steps: the `[component @ …] [level] ` prefixes off; a stats line; a mapping
  /// entry; a header line (banner, Input/Output/Stream/Duration, libraries). Each true when
  /// it took the line.
  std::string_view strip_prefixes(std::string_view raw, log_level& level,
                                  std::string_view& component);
  bool stats_line(std::string_view t, sink_ref s);
  bool mapping_entry(std::string_view t, bool indented, sink_ref s);
  bool header_line(std::string_view t, bool indented, sink_ref s);
  bool file_header(std::string_view t, sink_ref s);
  void summary_line(sink_ref s);
  void flush_pending_final(sink_ref s);

  enum class section { none, input, output, mapping };
  std::string partial_;
  bool skip_lf_ = false; ///< a '\r' ended the last line; a '\n' right after it is no line
  section section_ = section::none;
  int current_input_ = -1;
  int current_output_ = -1;
  std::uint64_t lines_ = 0;
  std::uint64_t cut_ = 0;
  std::uint64_t bytes_ = 0;
  std::uint64_t fed_ = 0;
  std::string_view current_;
  std::pair<std::size_t, std::size_t> tag_{0, 0};
  bool tagged_ = false;                       ///< a line of this stream had a [level] tag
  log_level line_level_ = log_level::unknown; ///< the last line's, for an untagged next line
  /// ffmpeg does not always mark its last stats line (audio-only runs print `size=`, not
  /// `Lsize=`); the summary (`video:…kB audio:…kB …`) tells. Up to 6.x it follows the last
  /// stats line, which it then repeats as final; from 7.0 each output's summary comes first
  /// and the next stats line is the final one. The release comes from the banner; without
  /// one, the last stats line is held until a line other than a stats line or a summary shows
  /// which order this is.
  std::optional<progress> last_progress_;
  std::optional<progress> pending_final_;
  bool final_next_ = false;
  int release_major_ = -1;
};

/// Parses one complete stderr line (no line ending) into the event it is, outside any
/// context (a Stream line is taken as an input stream). For tools and tests; log_parser is
/// the stateful way.
SIDECAR_API log_event parse_line(std::string_view line);

/// Parses `ffmpeg version …` (or `ffprobe version …`, `ffplay version …`); nullopt if the line
/// is not one.
SIDECAR_API std::optional<version_info> parse_version_line(std::string_view line);

/// The FFmpeg release (major, minor) that a libavutil version ("56.24.101") belongs to: the
/// newest release whose libavutil is not newer. A git build between two releases maps to the
/// older one, whose options it surely has. nullopt for a libavutil older than 3.0's (55.17).
SIDECAR_API std::optional<std::pair<int, int>> release_for_libavutil(std::string_view version);

/// Fills major/minor of a version whose banner is not numeric (git and static builds) from
/// its libavutil, and sets origin to libraries; leaves a numeric one alone.
SIDECAR_API void version_from_libraries(version_info& v, const library_version& libavutil);

/// Parses the whole output of `ffmpeg -version` (or the banner at the top of stderr): the
/// version line and, for builds without a release number, the libavutil line. nullopt when
/// there is no version line.
SIDECAR_API std::optional<version_info> parse_version_output(std::string_view text);

/// Parses a stats line (`frame=… time=… speed=…`, also `size=… time=…` for audio); nullopt if
/// the line is not one.
SIDECAR_API std::optional<progress> parse_progress_line(std::string_view line);

/// Incremental reader of `-progress` output: key=value lines, a block ending at
/// `progress=continue` or `progress=end`, each block one progress event.
/// A line longer than max_line is garbage and dropped whole, up to its newline, however the
/// bytes are sliced: never parsed from its middle.
class SIDECAR_API progress_reader {
public:
  /// The longest key=value line read; longer ones are dropped whole.
  static constexpr std::size_t max_line = 4096;

  /// Reads bytes (any slicing), calling `s(progress&&)` for each block completed.
  template <class Sink> void feed(std::string_view bytes, Sink&& s) {
    feed_impl(
        bytes,
        [](void* o, progress&& p) {
          (*static_cast<std::remove_reference_t<Sink>*>(o))(std::move(p));
        },
        &s);
  }

private:
  void feed_impl(std::string_view bytes, void (*call)(void*, progress&&), void* obj);
  void key_value(std::string_view line, void (*call)(void*, progress&&), void* obj);

  std::string partial_;
  bool discarding_ = false; ///< inside a line longer than max_line: dropped up to its '\n'
  progress current_;
};

} // namespace sidecar
