#pragma once
#if __has_include(<catch2/catch_test_macros.hpp>)
#include <catch2/catch_approx.hpp> // Catch2 v3 (WrapDB): Approx has its own header
#include <catch2/catch_test_macros.hpp>
using Catch::Approx; // v2 puts Approx in the global namespace; tests use it unqualified
#else
#include <catch2/catch.hpp> // Catch2 v2 (Debian)
#endif
