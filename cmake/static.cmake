# TIERCACHE_STATIC=ON: binaries that need only the C library on the host (the wheel and the
# Debian package ship them). Included twice from the top-level CMakeLists.txt:
#   - before the find_package calls (TIERCACHE_STATIC_PHASE=headers): spdlog, fmt and toml++ as
#     header-only INTERFACE targets under the names their Debian CMake configs would define, so
#     those configs see the targets exist and define nothing (Debian's are shared libraries);
#   - after them (TIERCACHE_STATIC_PHASE=link): the pkg-config targets of libuv, hiredis, Lua and
#     xxhash pointed at Debian's .a files, and libstdc++/libgcc linked statically.
# The rest of the build keeps using the same target names, so nothing else changes.

if(TIERCACHE_STATIC_PHASE STREQUAL "headers")
  foreach(t fmt::fmt fmt::fmt-header-only)
    add_library(${t} INTERFACE IMPORTED)
    set_target_properties(${t} PROPERTIES INTERFACE_COMPILE_DEFINITIONS "FMT_HEADER_ONLY=1")
  endforeach()
  foreach(t spdlog::spdlog spdlog::spdlog_header_only)
    add_library(${t} INTERFACE IMPORTED)
    set_target_properties(${t} PROPERTIES
      INTERFACE_COMPILE_DEFINITIONS "SPDLOG_FMT_EXTERNAL"
      INTERFACE_LINK_LIBRARIES "fmt::fmt-header-only;Threads::Threads")
  endforeach()
  add_library(tomlplusplus::tomlplusplus INTERFACE IMPORTED)
  set_target_properties(tomlplusplus::tomlplusplus PROPERTIES
    INTERFACE_COMPILE_DEFINITIONS "TOML_HEADER_ONLY=1")
  # Threads::Threads is referenced above; find it before anything resolves those targets.
  find_package(Threads REQUIRED)
  return()
endif()

# Phase "link". Each library's static archive, with the system libraries it needs itself.
function(tiercache_static_pkg target archive)
  find_library(TIERCACHE_STATIC_${target} NAMES ${archive} NO_CACHE REQUIRED)
  set_target_properties(PkgConfig::${target} PROPERTIES
    INTERFACE_LINK_LIBRARIES "${TIERCACHE_STATIC_${target}};${ARGN}"
    INTERFACE_LINK_DIRECTORIES "")
  message(STATUS "tiercache static: ${target} -> ${TIERCACHE_STATIC_${target}}")
endfunction()
tiercache_static_pkg(LIBUV libuv_a.a Threads::Threads ${CMAKE_DL_LIBS})
tiercache_static_pkg(HIREDIS libhiredis.a)
tiercache_static_pkg(LUA liblua5.1.a m ${CMAKE_DL_LIBS})
tiercache_static_pkg(XXHASH libxxhash.a)

# libstdc++ and libgcc into every executable and the Python extension; no libgcc_s.so either.
add_link_options(-static-libstdc++ -static-libgcc)
