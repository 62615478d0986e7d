# CMake toolchain file: vdispld for arm64, cross-built with Debian's
# gcc-aarch64-linux-gnu against the arm64 libraries fetch.sh unpacked
# (VD_ARM64_SYSROOT, default /var/cache/vdispld-xen-qemu/arm64/stage/root).
# glibc and its headers come from the cross toolchain itself; the libraries
# and their pkg-config files from the sysroot (not passed as --sysroot: it
# holds no libc6-dev).
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
if(NOT VD_ARM64_SYSROOT)
  if(DEFINED ENV{VD_ARM64_SYSROOT})
    set(VD_ARM64_SYSROOT $ENV{VD_ARM64_SYSROOT})
  else()
    set(VD_ARM64_SYSROOT /var/cache/vdispld-xen-qemu/arm64/stage/root)
  endif()
endif()
set(VD_ARM64_SYSROOT ${VD_ARM64_SYSROOT} CACHE PATH "arm64 library tree")
list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES VD_ARM64_SYSROOT)
set(ENV{PKG_CONFIG_SYSROOT_DIR} ${VD_ARM64_SYSROOT})
set(ENV{PKG_CONFIG_LIBDIR}
    ${VD_ARM64_SYSROOT}/usr/lib/aarch64-linux-gnu/pkgconfig:${VD_ARM64_SYSROOT}/usr/share/pkgconfig)
set(ENV{PKG_CONFIG_PATH} "")
set(CMAKE_FIND_ROOT_PATH ${VD_ARM64_SYSROOT})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE BOTH)
# -isystem: their headers are not held to our warnings (as /usr/include on the host)
set(CMAKE_C_FLAGS_INIT "-isystem ${VD_ARM64_SYSROOT}/usr/include")
set(_l ${VD_ARM64_SYSROOT}/usr/lib/aarch64-linux-gnu)
set(_r ${VD_ARM64_SYSROOT}/lib/aarch64-linux-gnu)
set(CMAKE_EXE_LINKER_FLAGS_INIT "-L${_l} -Wl,-rpath-link,${_l} -Wl,-rpath-link,${_r}")
