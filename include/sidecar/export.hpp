// SIDECAR_API marks what libsidecar exports. The library is built with hidden visibility
// (-fvisibility=hidden): only the public API declared with this macro is in its dynamic
// symbol table; the parts inside src/ stay private to it. Asio's own entities keep default
// visibility (Asio's headers say so themselves), so one io_context, one set of Asio error
// categories and one thread call stack serve both the library and its user.
#pragma once

#if defined(__GNUC__) || defined(__clang__)
#define SIDECAR_API __attribute__((visibility("default")))
#else
#define SIDECAR_API
#endif
