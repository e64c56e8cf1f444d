// What ffmpeg says before it starts: inputs, durations, outputs, streams and the mapping,
// collected by `co_await child.metadata()`.
#include <sidecar/sidecar.hpp>

#include <iostream>

namespace {

void print(const sidecar::stream_info& s) {
  std::cout << "    #" << s.file_index << ':' << s.stream_index;
  if (!s.language.empty()) std::cout << '(' << s.language << ')';
  std::cout << ' ' << sidecar::to_string(s.type) << ' ' << s.codec;
  if (s.type == sidecar::stream_type::video)
    std::cout << ' ' << s.width << 'x' << s.height << ' ' << s.pix_fmt << ' ' << s.fps.value_or(0.0)
              << " fps";
  if (s.type == sidecar::stream_type::audio)
    std::cout << ' ' << s.sample_rate << " Hz " << s.channel_layout << ' ' << s.sample_format;
  std::cout << '\n';
}

} // namespace

asio::awaitable<sidecar::expected<int>> show_metadata() {
  auto ff = sidecar::command{}
                .format("lavfi")
                .input("testsrc=size=640x360:rate=30:duration=1")
                .format("lavfi")
                .input("sine=frequency=1000:sample_rate=44100:duration=1")
                .map("0:v")
                .map("1:a")
                .codec_video("mpeg4")
                .codec_audio("pcm_s16le")
                .format("matroska")
                .output("-") // output 0: stdout
                .map("0:v")
                .format("rawvideo")
                .pix_fmt("gray")
                .overwrite()
                .output("/dev/null") // 1
                .spawn(co_await asio::this_coro::executor);
  if (!ff) co_return sidecar::unexpected(ff.error());
  auto m = co_await ff->metadata();
  if (m.version) std::cout << "ffmpeg " << m.version->version << '\n';
  for (const auto& in : m.inputs) {
    std::cout << "input #" << in.index << " " << in.format << " '" << in.url << "'\n";
    for (const auto& d : m.durations)
      if (d.input_index == in.index && d.duration)
        std::cout << "    duration " << static_cast<double>(d.duration->count()) / 1e6 << " s\n";
    for (const auto* s : m.input_streams(in.index))
      print(*s);
  }
  for (const auto& out : m.outputs) {
    std::cout << "output #" << out.index << " " << out.format << " '" << out.url << "'"
              << (out.to_stdout ? " (stdout)" : "") << '\n';
    for (const auto* s : m.output_streams(out.index))
      print(*s);
  }
  for (const auto& e : m.mapping)
    std::cout << "map  " << e.text << '\n';
  std::size_t bytes = 0;
  while (auto e = co_await ff->next_event())
    if (auto* c = std::get_if<sidecar::chunk>(&*e)) bytes += c->size();
  auto status = co_await ff->wait();
  if (!status) co_return sidecar::unexpected(status.error());
  std::size_t streams = m.streams.size();
  std::cout << "metadata: " << m.inputs.size() << " inputs, " << m.outputs.size() << " outputs, "
            << streams << " streams, " << bytes << " bytes of matroska on stdout\n";
  co_return m.inputs.size() == 2 && m.outputs.size() == 2 ? 0 : 1;
}

int main() {
  auto rc = sidecar::run_sync(show_metadata(), std::chrono::seconds(60));
  if (!rc) {
    std::cerr << "metadata: " << rc.error() << '\n';
    return 1;
  }
  return *rc;
}
