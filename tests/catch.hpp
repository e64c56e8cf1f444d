#pragma once
#if __has_include(<catch2/catch_test_macros.hpp>)
#include <catch2/catch_test_macros.hpp> // Catch2 v3 (WrapDB)
#else
#include <catch2/catch.hpp> // Catch2 v2 (Debian)
#endif
