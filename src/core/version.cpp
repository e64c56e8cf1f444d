#include <sidecar/version.hpp>

namespace sidecar {

// Compiled into the library: the version it was built as, whatever headers the caller has.
const char* linked_version() noexcept {
  return SIDECAR_VERSION_STRING;
}

} // namespace sidecar
