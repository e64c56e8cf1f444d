// Included by every sidecar header before its first Asio header. Asio 1.22 finds C++20
// coroutines by compiler name: with g++ it does, with clang (on libstdc++) it does not, and
// then asio::awaitable does not exist. sidecar.pc and sidecar::sidecar pass the flags when
// the library was built with clang; this covers a clang consumer of a g++ build and a
// translation unit that sets no flags at all.
#pragma once

#if defined(__clang__) && !defined(ASIO_HAS_CO_AWAIT) && !defined(ASIO_DISABLE_CO_AWAIT) &&        \
    defined(__cpp_impl_coroutine) && __has_include(<coroutine>)
#if defined(ASIO_DETAIL_CONFIG_HPP)
#error                                                                                             \
    "sidecar with clang: include a sidecar header before any Asio header, or define ASIO_HAS_CO_AWAIT=1 and ASIO_HAS_STD_COROUTINE=1 (Asio was configured without coroutines)"
#endif
#define ASIO_HAS_CO_AWAIT 1
#define ASIO_HAS_STD_COROUTINE 1
#endif
