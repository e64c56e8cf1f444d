// Building an ffmpeg / ffplay / ffprobe argument list, and showing it safely to humans.
#pragma once

#include <sidecar/binary.hpp>
#include <sidecar/error.hpp>
#include <sidecar/export.hpp>

#include <chrono>
#include <concepts>
#include <cstdint>
#include <filesystem>
#include <initializer_list>
#include <iosfwd>
#include <optional>
#include <ranges>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace sidecar {

class ffmpeg_child;         ///< the events layer's: command::spawn only names it
struct rtmp_push_options;   // presets.hpp
struct rtmp_listen_options; // presets.hpp
struct hls_options;         // presets.hpp

/// What to hand to posix_spawn: argv[0] is the program path, the rest is command::argv().
struct SIDECAR_API resolved_command {
  std::filesystem::path program; ///< the binary found (absolute, or as SIDECAR_* names it)
  std::vector<std::string> argv; ///< the arguments, adapted to the binary's release
  /// What was changed for this binary's release (an option it lacks, left out or replaced),
  /// one sentence each; the event stream reports them as log_line events from "sidecar".
  std::vector<std::string> notes;
};

/// One option as given: its name ("-t", "-c:v") and its value; none for a flag ("-y").
struct SIDECAR_API command_option {
  std::string name;                                       ///< "-t", "-c:v"
  std::optional<std::string> value;                       ///< nullopt for a flag
  bool operator==(const command_option&) const = default; ///< same name and value
};

/// An input (`-i URL`) or an output (a URL standing alone) with the options given for it: those
/// between the file before it and it, which is how ffmpeg applies them.
struct SIDECAR_API command_file {
  std::string url;                     ///< as given ("in.mp4", "-", "tcp://...")
  std::vector<command_option> options; ///< in the order given
  /// The value of the last of `names` given for this file; nullptr when none was.
  const std::string* value(std::initializer_list<std::string_view> names) const;
  bool operator==(const command_file&) const = default; ///< same url and options
};

/// Arguments are kept in the order given, so an option lands before the -i or the output it is
/// meant for exactly as on a shell line. Aliases are named after ffmpeg's own flags (as in the
/// Rust crate ffmpeg-sidecar) so the builder is discoverable by autocompletion. This class
/// knows nothing of processes: spawning lives in the process and events layers.
///
/// Not carried over from ffmpeg-sidecar: spawn / pipe_stdout's stdio setup (process layer),
/// create_named_pipe (io layer owns FIFOs), create_no_window (Windows only; sidecar is POSIX).
class SIDECAR_API command {
public:
  command() = default;                    ///< An ffmpeg command with no arguments yet.
  explicit command(tool t) : which_(t) {} ///< A command for that tool.
  static command ffmpeg() { return command(tool::ffmpeg); }   ///< An ffmpeg command.
  static command ffplay() { return command(tool::ffplay); }   ///< An ffplay command.
  static command ffprobe() { return command(tool::ffprobe); } ///< An ffprobe command.

  // --- generic options --------------------------------------------------------------------
  command& hide_banner();                    ///< -hide_banner
  command& loglevel(std::string_view level); ///< -loglevel LEVEL
  command& nostdin();                        ///< -nostdin

  // --- main options -----------------------------------------------------------------------
  command& format(std::string_view name); ///< -f NAME
  // A path starting with '-' ("-report.mp4") is passed as file:PATH, so that ffmpeg never
  // takes it for an option; "-" alone is stdin / stdout.
  /// -i PATH ("-" or "pipe:0" for stdin; a path starting with '-' goes as file:PATH).
  command& input(std::string_view path_or_url);
  /// PATH, positional ("-" for stdout; a path starting with '-' goes as file:PATH).
  command& output(std::string_view path_or_url);
  /// -i of anything with a path(): a named_pipe (its FIFO), ...
  template <class Pipe>
  requires requires(const Pipe& p) {
    { p.path() } -> std::convertible_to<const std::filesystem::path&>;
  }
  command& input(const Pipe& pipe) { return input(std::string_view(pipe.path().native())); }
  /// An output to anything with a path(): a named_pipe (its FIFO), ... The FIFO exists, so
  /// this adds -y unless -y or -n was given: with the -n that argv() adds otherwise, ffmpeg
  /// would refuse the "existing file" and the reader would wait for a writer that never comes.
  template <class Pipe>
  requires requires(const Pipe& p) {
    { p.path() } -> std::convertible_to<const std::filesystem::path&>;
  }
  command& output(const Pipe& pipe) {
    if (!has_option("-y") && !has_option("-n")) arg("-y");
    return output(std::string_view(pipe.path().native()));
  }
  /// Output `k` of anything with url(k): a tcp_ingest (`tcp://127.0.0.(k+1):PORT`), ...
  template <class Ingest>
  requires requires(const Ingest& i, std::size_t k) {
    { i.url(k) } -> std::convertible_to<std::string>;
  }
  command& output(const Ingest& ingest, std::size_t k) {
    return output(std::string_view(ingest.url(k)));
  }
  /// -i data:MIME;base64,... : a small input given inline (a subtitle, a still image) with no
  /// file; set its format first when ffmpeg cannot guess it (`.format("srt")`). Linux limits
  /// one argument to 128 KiB, so about 96 KiB of bytes at most: spawn fails (E2BIG) past it.
  command& input_data(std::string_view mime, std::string_view bytes);
  command& overwrite();                            ///< -y
  command& no_overwrite();                         ///< -n
  command& codec_video(std::string_view codec);    ///< -c:v CODEC
  command& codec_audio(std::string_view codec);    ///< -c:a CODEC
  command& codec_subtitle(std::string_view codec); ///< -c:s CODEC
  command& limit_file_size(std::uint64_t bytes);   ///< -fs BYTES
  command& filter(std::string_view filtergraph);   ///< -filter GRAPH
  command& progress_url(std::string_view url);     ///< -progress URL (key=value progress)

  // Times take ffmpeg's duration syntax ("12.5", "00:01:02.5", "-3") or a std::chrono
  // duration, written as seconds to microsecond precision ("12.5").
  command& duration(std::string_view d);          ///< -t
  command& to(std::string_view position);         ///< -to
  command& seek(std::string_view position);       ///< -ss
  command& seek_eof(std::string_view position);   ///< -sseof (negative: before the end)
  command& stats_period(std::string_view period); ///< -stats_period
  /// -t with a std::chrono duration, written as seconds (12.5).
  template <class Rep, class Period> command& duration(std::chrono::duration<Rep, Period> d) {
    return duration(seconds_text(d));
  }
  /// -to with a std::chrono duration, written as seconds (12.5).
  template <class Rep, class Period> command& to(std::chrono::duration<Rep, Period> d) {
    return to(seconds_text(d));
  }
  /// -ss with a std::chrono duration, written as seconds (12.5).
  template <class Rep, class Period> command& seek(std::chrono::duration<Rep, Period> d) {
    return seek(seconds_text(d));
  }
  /// -sseof with a std::chrono duration, written as seconds (12.5).
  template <class Rep, class Period> command& seek_eof(std::chrono::duration<Rep, Period> d) {
    return seek_eof(seconds_text(d));
  }
  /// -stats_period with a std::chrono duration, written as seconds (12.5).
  template <class Rep, class Period> command& stats_period(std::chrono::duration<Rep, Period> d) {
    return stats_period(seconds_text(d));
  }

  // --- video options ----------------------------------------------------------------------
  command& crf(unsigned value);                   ///< -crf:v N (as ffmpeg-sidecar emits it)
  command& frames(std::uint64_t count);           ///< -frames:v N
  command& preset(std::string_view name);         ///< -preset:v NAME (as ffmpeg-sidecar)
  command& rate(double fps);                      ///< -r FPS ("30", "29.97")
  command& rate(std::string_view fps);            ///< -r FPS, e.g. "30000/1001"
  command& size(unsigned width, unsigned height); ///< -s WxH
  command& no_video();                            ///< -vn
  command& pix_fmt(std::string_view format);      ///< -pix_fmt FORMAT
  command& hwaccel(std::string_view method);      ///< -hwaccel METHOD

  // --- audio options ----------------------------------------------------------------------
  command& no_audio(); ///< -an

  // --- advanced options -------------------------------------------------------------------
  command& map(std::string_view spec); ///< -map SPEC
  command& readrate(double speed);     ///< -readrate SPEED
  command& realtime();                 ///< -re
  /// -readrate_initial_burst SECONDS (6.1 and later): since 6.1, -re and -readrate read the
  /// first 0.5 s of each input at full speed; 0 paces it from the start, as older releases
  /// do (which lack the option: it is left out there). ffmpeg reads 0 as its default, so 0 is
  /// passed as 0.000001 (1 µs, no_initial_burst).
  command& readrate_initial_burst(double seconds);
  /// What readrate_initial_burst(0) passes: 1 µs, because ffmpeg reads 0 as its default.
  static constexpr double no_initial_burst = 1e-6;
  command& fps_mode(std::string_view mode);                  ///< -fps_mode MODE
  command& bitstream_filter_video(std::string_view filters); ///< -bsf:v FILTERS
  command& filter_complex(std::string_view filtergraph);     ///< -filter_complex GRAPH

  // --- presets ----------------------------------------------------------------------------
  command& testsrc();     ///< -f lavfi -i testsrc=duration=10 (ffmpeg-sidecar's exact preset)
  command& rawvideo();    ///< -f rawvideo -pix_fmt rgb24 -  (raw frames on stdout)
  command& pipe_stdout(); ///< -
  /// The RTMP push preset as a step of the chain: sidecar::rtmp_push(*this, url) (presets.hpp
  /// says what it adds).
  command& rtmp_push(std::string_view url);
  /// The same with options (needs <sidecar/presets.hpp>, which sidecar.hpp includes).
  command& rtmp_push(std::string_view url, const rtmp_push_options& options);
  /// ffmpeg as an RTMP server for one publisher, as an input: sidecar::rtmp_listen(*this, url).
  command& rtmp_listen(std::string_view url);
  /// The same with options (needs <sidecar/presets.hpp>).
  command& rtmp_listen(std::string_view url, const rtmp_listen_options& options);
  /// An HLS playlist and segments into `dir`: sidecar::hls_output(*this, dir).
  command& hls_output(const std::filesystem::path& dir);
  /// The same with options (needs <sidecar/presets.hpp>).
  command& hls_output(const std::filesystem::path& dir, const hls_options& options);

  // --- raw arguments ----------------------------------------------------------------------
  /// One argument as it is (never through a shell); secrets in it are remembered.
  command& arg(std::string_view a);
  /// Several arguments, in order.
  command& args(std::initializer_list<std::string_view> list);
  /// Every string of a range, in order.
  template <std::ranges::input_range R>
  requires std::convertible_to<std::ranges::range_reference_t<R>, std::string_view> command&
  args(R&& range) {
    for (auto&& a : range)
      arg(std::string_view(a));
    return *this;
  }

  // --- secrets ----------------------------------------------------------------------------
  // A command remembers the secrets it carries as its arguments are added, so that they are
  // masked ("***") wherever they reappear: in to_string() (command_line()), and in every
  // line ffmpeg prints — log_line events, stderr_lines(), error lines and messages, metadata
  // URLs and mapping — even where ffmpeg prints them without a URL around them (at debug
  // level rtmpproto prints "fname = KEY" and "Sending publish command for 'KEY'", the http
  // protocol its request line with the query and its headers). What it learns:
  //  - in every URL of any argument (inputs, outputs, option values, tee outputs): the
  //    userinfo's password (user:PASSWORD@), a userinfo without ':' whole (https://TOKEN@),
  //    and the HTTP Basic credentials ffmpeg derives from it (base64 of user:password);
  //    an RTMP URL's stream key, everything after the application up to the query
  //    (rtmp://host/app/KEY), and its last segment, as rtmpproto prints it (playpath, fname);
  //    the values of query parameters that name a credential: streamid (SRT), cid (YouTube's
  //    HLS ingest), and any name containing key, token, pass, pwd, secret, auth, sig or cred
  //    (access_token, api_key, passphrase, X-Amz-Signature, ...); percent-decoded too;
  //  - the value of an option that carries a secret by itself:
  //    -rtmp_playpath, -rtmp_conn (each AMF value in it, "S:VALUE"), -headers (the value of
  //    each Authorization, Proxy-Authorization or credential-named header, less its scheme:
  //    "Bearer ***"; each cookie's value in a Cookie header), -cookies (each cookie's value),
  //    -decryption_key, -encryption_key, -hls_enc_key, -key (crypto protocol),
  //    -activation_bytes, -audible_key (mov), -passphrase, -streamid, -srt_streamid (SRT),
  //    -srtp_in_params, -srtp_out_params, -password, -authorization (WHIP), and any option
  //    whose name contains "token" or "secret"; to_string() shows these values as '***';
  //  - what secret() is given.
  // A value shorter than min_secret_length is not remembered: masking "abc" or "1" in every
  // line would mangle the log and hide nothing worth hiding. It is still masked in
  // to_string() when it sits in a URL or follows a secret option. A remembered value is
  // masked wherever it occurs, also inside other words: a stream key that is a common word
  // ("stream", "live") masks that word in ffmpeg's lines too.
  /// Secrets shorter than this many bytes are not remembered (see the comment above).
  static constexpr std::size_t min_secret_length = 4;
  /// Remembers a secret the command carries in a way it cannot know (an argument built from
  /// a token, a key in a filter option, ...); adds no argument.
  command& secret(std::string_view value);
  /// Every remembered secret, longest first (so a key is masked before a part of it), each
  /// once. The event stream takes a copy at spawn and masks them in every line, event and
  /// error; what a command learns is listed in this header, above min_secret_length.
  const std::vector<std::string>& secrets() const noexcept { return secrets_; }

  /// Writes to_string() and a newline; chains like ffmpeg-sidecar's print_command.
  command& print_command(std::ostream& out);
  command& print_command(); ///< to std::cout

  // --- what comes out ---------------------------------------------------------------------
  /// ffmpeg, ffplay or ffprobe.
  tool which() const noexcept { return which_; }
  /// The arguments exactly as given.
  const std::vector<std::string>& args() const noexcept { return args_; }
  /// The same arguments as ffmpeg reads them, kept up to date as they are added: each input
  /// and output with its own options, and the options given after the last file (where
  /// ffmpeg takes only global ones). An option takes the next argument as its value unless
  /// it is a flag ffmpeg knows (-y, -re, -vn, -nostdin, ...); `-i` always starts an input.
  /// The layers above read -t/-ss/-to, stdin use, -progress and the log level from here.
  const std::vector<command_file>& inputs() const noexcept { return inputs_; }
  /// The outputs, each with its own options (see inputs()).
  const std::vector<command_file>& outputs() const noexcept { return outputs_; }
  /// Options given after the last file (see inputs()).
  const std::vector<command_option>& trailing_options() const noexcept { return pending_; }
  /// The value of the last of `names` anywhere in the command (global options such as
  /// -loglevel may stand before any file); nullptr when none was given.
  const std::string* option_value(std::initializer_list<std::string_view> names) const;
  /// Whether the option (a flag or one with a value) appears anywhere in the command.
  bool has_option(std::string_view name) const;
  /// The arguments that will be passed (without the program name), with the guards applied:
  /// "-loglevel level+info" in front unless -loglevel or -v was given, because the log parser
  /// needs the [level] prefixes; and for ffmpeg "-n" in front unless -y, -n or -nostdin was
  /// given, because the overwrite prompt would otherwise wait on stdin forever.
  std::vector<std::string> argv() const;
  /// Finds the binary (SIDECAR_* variable, then PATH); a lookup error is passed on unchanged.
  /// When the arguments carry an option that older releases lack (gated_options():
  /// -stats_period, -readrate, -fps_mode), the binary's version is looked up once
  /// (describe_binary) and the option is replaced or left out for a release without it, with
  /// a note saying so.
  expected<resolved_command> resolve() const;
  /// A line to paste into a POSIX shell: the program name then argv(), quoted where needed,
  /// with secrets masked (see secrets()): the value after a secret option as '***', secrets
  /// in URLs, and every remembered secret wherever it reappears. For humans only, never
  /// executed.
  std::string to_string() const;

  /// Spawns it: expected<ffmpeg_child>, as ffmpeg_child::spawn(ex, *this). The events layer
  /// spawns; this header knows no processes, so calling it needs <sidecar/ffmpeg_child.hpp>
  /// (or <sidecar/sidecar.hpp>), and says so when it is missing.
  template <class Executor, class Child = ffmpeg_child> auto spawn(const Executor& ex) const {
    static_assert(
        requires { sizeof(Child); },
        "command::spawn needs #include <sidecar/ffmpeg_child.hpp> (or sidecar.hpp)");
    return Child::spawn(ex, *this);
  }

  bool operator==(const command&) const = default; ///< the same tool and arguments

private:
  static std::string seconds_text(std::chrono::microseconds us);
  template <class Rep, class Period>
  static std::string seconds_text(std::chrono::duration<Rep, Period> d) {
    return seconds_text(std::chrono::round<std::chrono::microseconds>(d));
  }

  /// Files the structure above: one more argument, as ffmpeg would read it. Returns the
  /// option `a` is the value of, if it is one (valid until the next argument).
  const command_option* classify(std::string_view a);
  /// Remembers the secrets argument `a` carries (its URLs; its value, when `option` is secret).
  void learn_secrets(std::string_view a, const command_option* option);

  tool which_ = tool::ffmpeg;
  std::vector<std::string> args_;
  std::vector<command_file> inputs_, outputs_;
  std::vector<command_option> pending_; ///< options not yet followed by their file
  std::vector<std::string> secrets_;    ///< longest first, each once
  enum class expecting : unsigned char { anything, value, input_url };
  expecting expect_ = expecting::anything;
};

/// Writes c.to_string(): the shell line with secrets masked.
SIDECAR_API std::ostream& operator<<(std::ostream& out, const command& c);

/// Masks secrets in `text` (an argument, a log line, an error message): first every
/// occurrence of each of `values` (a command's secrets(), longest first; an empty value is
/// skipped, a short one is masked as given), then in every URL found: userinfo passwords
/// (`rtmp://user:***@host`), a userinfo without ':' (`https://***@host`), RTMP stream keys
/// (rtmp://host/app/***), SRT streamid= values, and query values whose name looks like a
/// credential (cid, and names containing key, token, pass, pwd, secret, auth, sig, cred).
/// Everything else is left as is.
SIDECAR_API std::string mask_secrets(std::string_view text,
                                     std::span<const std::string> values = {});
/// The same in place, for a hot path: false, without allocating, when there is nothing to
/// mask (no value occurs and there is no "://"), which is every line of a command without
/// secrets but for one search.
SIDECAR_API bool mask_secrets_in_place(std::string& text, std::span<const std::string> values = {});

} // namespace sidecar
