# Install rules of the servers (component "server") and, with TIERCACHE_PACKAGE=ON, their man
# pages and the Debian package by CPack:
#   cmake -S . -B build-pkg -G Ninja -DCMAKE_BUILD_TYPE=Release -DTIERCACHE_STATIC=ON \
#         -DTIERCACHE_PACKAGE=ON
#   cmake --build build-pkg --target tiercache-l2 tiercache-sidecar tiercache_man
#   (cd build-pkg && cpack -G DEB)     -> build-pkg/tiercache_<version>_<arch>.deb
# The package holds the component "server" only: /usr/bin/tiercache-{l2,sidecar}, their man
# pages, the systemd units tiercache-l2.service and tiercache-sidecar@.service, and the
# configuration files in /etc/tiercache (conffiles). Sources: packaging/debian/.
# tests/packaging builds it, installs it with dpkg and checks it.

install(TARGETS tiercache-l2 tiercache-sidecar RUNTIME DESTINATION bin COMPONENT server)

option(TIERCACHE_PACKAGE "Man pages (help2man) and the Debian package (cpack -G DEB)" OFF)
if(NOT TIERCACHE_PACKAGE)
  return()
endif()
if(NOT TIERCACHE_STATIC)
  message(WARNING "TIERCACHE_PACKAGE without TIERCACHE_STATIC: the package's binaries need the "
                  "shared libraries of the build host, and its dependencies do not list them")
endif()

set(deb_src ${CMAKE_SOURCE_DIR}/packaging/debian)

# Man pages from --help and --version, so they cannot drift from the binaries.
find_program(HELP2MAN help2man REQUIRED)
set(man_pages)
foreach(prog tiercache-l2 tiercache-sidecar)
  if(prog STREQUAL "tiercache-l2")
    set(what "the Redis-compatible shared L2 store of tiercache")
  else()
    set(what "the per-host two-tier cache of tiercache, in front of tiercache-l2")
  endif()
  set(page ${CMAKE_BINARY_DIR}/man/${prog}.1)
  add_custom_command(
    OUTPUT ${page}.gz
    COMMAND ${CMAKE_COMMAND} -E make_directory ${CMAKE_BINARY_DIR}/man
    # Run by name from PATH, so the usage line says "tiercache-l2", not the build path.
    COMMAND ${CMAKE_COMMAND} -E env "PATH=$<TARGET_FILE_DIR:${prog}>:$ENV{PATH}"
            ${HELP2MAN} --no-info --section=1 --name=${what} --source=tiercache
            --output=${page} ${prog}
    COMMAND gzip -9nf ${page}
    DEPENDS ${prog}
    COMMENT "man page of ${prog} (help2man)"
    VERBATIM)
  list(APPEND man_pages ${page}.gz)
endforeach()
add_custom_target(tiercache_man DEPENDS ${man_pages})
install(FILES ${man_pages} DESTINATION share/man/man1 COMPONENT server)

install(FILES ${deb_src}/tiercache-l2.service ${deb_src}/tiercache-sidecar@.service
        DESTINATION lib/systemd/system COMPONENT server)
install(FILES ${deb_src}/l2.toml ${deb_src}/sidecar-default.toml
        DESTINATION /etc/tiercache PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ
        COMPONENT server)

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME tiercache)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "tiercache maintainers <tiercache@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
    "two-tier Redis-protocol cache for Django: per-host sidecar and shared L2")
set(CPACK_PACKAGE_DESCRIPTION
    "tiercache-sidecar answers the Redis protocol on a Unix socket on every host and keeps a
bounded L1 in shared memory for the host's processes; tiercache-l2 is the shared
Redis-compatible store behind it. Writes are broadcast as invalidations.")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
# Only the servers: not the Python package (pip installs that, see docs/install.md).
set(CPACK_INSTALL_CMAKE_PROJECTS "${CMAKE_BINARY_DIR};tiercache;server;/")
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION database)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
# libc (from dpkg-shlibdeps: the binaries link nothing else) and adduser for the postinst.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "redis-tools")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    "${deb_src}/conffiles;${deb_src}/postinst;${deb_src}/prerm;${deb_src}/postrm")
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
include(CPack)
