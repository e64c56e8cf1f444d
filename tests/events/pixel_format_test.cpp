// The pixel-format table against sizes the real ffmpeg wrote, and its coverage.
#include <sidecar/pixel_format.hpp>

#include "catch.hpp"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>

using namespace sidecar;

namespace {

struct measured {
  const char* name;
  int width, height;
  std::size_t bytes;
};
const measured measured_sizes[] = {
#include "pixel_sizes_5.1.inc"
};

std::filesystem::path fixture(const char* name) {
  const char* root = std::getenv("SIDECAR_SOURCE_ROOT");
  return std::filesystem::path(root ? root : ".") / "tests/events/fixtures" / name;
}

} // namespace

TEST_CASE("frame sizes equal what ffmpeg's rawvideo output measured", "[pixel]") {
  REQUIRE(std::size(measured_sizes) >= 300);
  for (const auto& m : measured_sizes) {
    INFO(m.name << ' ' << m.width << 'x' << m.height);
    auto size = frame_size(m.name, m.width, m.height);
    REQUIRE(size);
    CHECK(*size == m.bytes);
  }
}

TEST_CASE("well-known sizes, aliases and native endianness", "[pixel]") {
  CHECK(frame_size("rgb24", 1920, 1080) == 1920u * 1080 * 3);
  CHECK(frame_size("yuv420p", 1920, 1080) == 1920u * 1080 * 3 / 2);
  CHECK(frame_size("yuv420p", 33, 17) == 33u * 17 + 2 * 17 * 9);
  CHECK(frame_size("nv12", 640, 480) == 640u * 480 * 3 / 2);
  CHECK(frame_size("pal8", 16, 16) == 256u + 1024); // the palette travels with the frame
  CHECK(frame_size("monow", 9, 2) == 2u * 2);       // rows rounded up to a byte
  CHECK(frame_size("rgba", 2, 2) == 16u);
  CHECK(frame_size("p010le", 4, 4) == 4u * 4 * 2 + 2 * 2 * 4);
  CHECK(frame_size("y210le", 4, 2) == 4u * 2 * 4);
  REQUIRE(find_pixel_format("rgb48"));
  CHECK(find_pixel_format("rgb48")->name == "rgb48le");
  REQUIRE(find_pixel_format("gray16"));
  CHECK(find_pixel_format("gray16")->name == "gray16le");
  CHECK(find_pixel_format("yuv420p")->planar);
  CHECK(find_pixel_format("yuv420p")->log2_chroma_h == 1);
  CHECK(find_pixel_format("rgb48be")->big_endian);
  CHECK(find_pixel_format("no_such_format") == nullptr);
  CHECK(find_pixel_format("") == nullptr);
  CHECK_FALSE(frame_size("no_such_format", 2, 2));
  CHECK_FALSE(frame_size("rgb24", 0, 10));
  CHECK_FALSE(frame_size("rgb24", -4, 10));
  CHECK_FALSE(frame_size("rgb24", 100000, 100000)); // ffmpeg refuses it too
}

TEST_CASE("hardware surfaces have no size on a pipe", "[pixel]") {
  for (const char* hw : {"vaapi", "cuda", "qsv", "vulkan", "d3d11", "videotoolbox_vld", "drm_prime",
                         "opencl", "mediacodec", "vdpau", "mmal", "dxva2_vld"}) {
    INFO(hw);
    const auto* f = find_pixel_format(hw);
    REQUIRE(f);
    CHECK(f->hardware);
    CHECK_FALSE(frame_size(*f, 64, 64));
  }
}

TEST_CASE("the table is sorted, unique, and covers ffmpeg 5.1 and ffmpeg-sidecar", "[pixel]") {
  auto all = pixel_formats();
  CHECK(all.size() >= 220);
  std::set<std::string_view> names;
  for (std::size_t i = 0; i < all.size(); ++i) {
    CHECK(names.insert(all[i].name).second);
    if (i > 0) CHECK(all[i - 1].name < all[i].name);
    CHECK(all[i].components >= 0);
    CHECK(all[i].components <= 4);
  }
  // Every format the installed-at-recording ffmpeg 5.1 lists (`ffmpeg -pix_fmts`).
  std::ifstream in(fixture("pix_fmts_5.1.txt"));
  REQUIRE(in);
  std::string flags, name;
  std::size_t listed = 0;
  while (in >> flags >> name) {
    std::string rest;
    std::getline(in, rest);
    ++listed;
    INFO(name);
    const auto* f = find_pixel_format(name);
    REQUIRE(f);
    CHECK(f->name == name);
    std::istringstream cols(rest);
    int comps = 0, bpp = 0;
    cols >> comps >> bpp;
    CHECK(f->components == comps);
    CHECK(f->bits_per_pixel == bpp);
    CHECK(f->hardware == (flags[2] == 'H'));
    CHECK(f->bitstream == (flags[4] == 'B'));
  }
  CHECK(listed == 206);
  // The names ffmpeg-sidecar (Rust) sizes in src/pix_fmt.rs
  // (https://github.com/nathanbabcock/ffmpeg-sidecar/blob/main/src/pix_fmt.rs), less its
  // generic "bayer" entry: it includes formats ffmpeg 6.0 added.
  for (const char* n :
       {"yuv420p",      "yuyv422",      "rgb24",        "bgr24",        "yuv422p",
        "yuv444p",      "yuv410p",      "yuv411p",      "gray",         "monow",
        "monob",        "pal8",         "yuvj420p",     "yuvj422p",     "yuvj444p",
        "uyvy422",      "uyyvyy411",    "bgr8",         "bgr4",         "rgb8",
        "rgb4",         "nv12",         "nv21",         "argb",         "rgba",
        "abgr",         "bgra",         "gray16be",     "gray16le",     "yuv440p",
        "yuvj440p",     "yuva420p",     "rgb48be",      "rgb48le",      "rgb565be",
        "rgb565le",     "rgb555be",     "rgb555le",     "bgr565be",     "bgr565le",
        "bgr555be",     "bgr555le",     "vaapi",        "yuv420p16le",  "yuv420p16be",
        "yuv422p16le",  "yuv422p16be",  "yuv444p16le",  "yuv444p16be",  "dxva2_vld",
        "rgb444le",     "rgb444be",     "bgr444le",     "bgr444be",     "ya8",
        "bgr48be",      "bgr48le",      "yuv420p9be",   "yuv420p9le",   "yuv420p10be",
        "yuv420p10le",  "yuv422p10be",  "yuv422p10le",  "yuv444p9be",   "yuv444p9le",
        "yuv444p10be",  "yuv444p10le",  "yuv422p9be",   "yuv422p9le",   "gbrp",
        "gbrp9be",      "gbrp9le",      "gbrp10be",     "gbrp10le",     "gbrp16be",
        "gbrp16le",     "yuva422p",     "yuva444p",     "yuva420p9be",  "yuva420p9le",
        "yuva422p9be",  "yuva422p9le",  "yuva444p9be",  "yuva444p9le",  "yuva420p10be",
        "yuva420p10le", "yuva422p10be", "yuva422p10le", "yuva444p10be", "yuva444p10le",
        "yuva420p16be", "yuva420p16le", "yuva422p16be", "yuva422p16le", "yuva444p16be",
        "yuva444p16le", "vdpau",        "xyz12le",      "xyz12be",      "nv16",
        "nv20le",       "nv20be",       "rgba64be",     "rgba64le",     "bgra64be",
        "bgra64le",     "yvyu422",      "ya16be",       "ya16le",       "gbrap",
        "gbrap16be",    "gbrap16le",    "qsv",          "mmal",         "d3d11va_vld",
        "cuda",         "0rgb",         "rgb0",         "0bgr",         "bgr0",
        "yuv420p12be",  "yuv420p12le",  "yuv420p14be",  "yuv420p14le",  "yuv422p12be",
        "yuv422p12le",  "yuv422p14be",  "yuv422p14le",  "yuv444p12be",  "yuv444p12le",
        "yuv444p14be",  "yuv444p14le",  "gbrp12be",     "gbrp12le",     "gbrp14be",
        "gbrp14le",     "yuvj411p",     "xvmc",         "yuv440p10le",  "yuv440p10be",
        "yuv440p12le",  "yuv440p12be",  "ayuv64le",     "ayuv64be",     "videotoolbox_vld",
        "p010le",       "p010be",       "gbrap12be",    "gbrap12le",    "gbrap10be",
        "gbrap10le",    "mediacodec",   "gray12be",     "gray12le",     "gray10be",
        "gray10le",     "p016le",       "p016be",       "d3d11",        "gray9be",
        "gray9le",      "gbrpf32be",    "gbrpf32le",    "gbrapf32be",   "gbrapf32le",
        "drm_prime",    "opencl",       "gray14be",     "gray14le",     "grayf32be",
        "grayf32le",    "yuva422p12be", "yuva422p12le", "yuva444p12be", "yuva444p12le",
        "nv24",         "nv42",         "vulkan",       "y210be",       "y210le",
        "x2rgb10le",    "x2rgb10be",    "x2bgr10le",    "x2bgr10be",    "p210be",
        "p210le",       "p410be",       "p410le",       "p216be",       "p216le",
        "p416be",       "p416le",       "vuya",         "rgbaf16be",    "rgbaf16le",
        "vuyx",         "p012le",       "p012be",       "y212be",       "y212le",
        "xv30be",       "xv30le",       "xv36be",       "xv36le",       "rgbf32be",
        "rgbf32le",     "rgbaf32be",    "rgbaf32le"}) {
    INFO(n);
    CHECK(find_pixel_format(n) != nullptr);
  }
}

TEST_CASE("formats newer than 5.1 size as their layouts say", "[pixel]") {
  // Not measurable with the ffmpeg here; their descriptors come from pixdesc.c of 6.0/7.0.
  CHECK(frame_size("rgbaf16le", 4, 4) == 4u * 4 * 8);
  CHECK(frame_size("rgbf32be", 4, 4) == 4u * 4 * 12);
  CHECK(frame_size("p012le", 4, 4) == 4u * 4 * 2 + 2 * 2 * 4);
  CHECK(frame_size("y212le", 6, 2) == 3u * 8 * 2);
  CHECK(frame_size("xv36le", 3, 3) == 9u * 8);
  CHECK(frame_size("vuyx", 3, 3) == 9u * 4);
  CHECK(frame_size("gbrap14le", 5, 3) == 4u * 5 * 3 * 2);
  CHECK(find_pixel_format("xv30le")->since == "6.0");
}
