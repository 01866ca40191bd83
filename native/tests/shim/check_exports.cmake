# ctest shim_exports: cmake -DSHIM=<libgpupool-shim.so> -P check_exports.cmake
# The shim exports only driver entry points (cu*), the NVML memory queries it
# hooks and dlsym, and needs nothing
# that can clash with what its host process links: no C++ runtime, no libgcc_s,
# no libcuda (it opens the driver itself).
cmake_minimum_required(VERSION 3.20)
if(NOT EXISTS "${SHIM}")
  message(FATAL_ERROR "${SHIM} does not exist: build the shim first")
endif()
find_program(NM nm REQUIRED)
find_program(READELF readelf REQUIRED)

execute_process(COMMAND ${NM} -D --defined-only "${SHIM}" OUTPUT_VARIABLE defined RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "nm -D --defined-only failed (${rc})")
endif()
string(REPLACE "\n" ";" lines "${defined}")
set(bad)
set(names)
foreach(line IN LISTS lines)
  if(line MATCHES "^[0-9a-fA-F]* *([A-Za-z]) ([^ @]+)")
    set(type "${CMAKE_MATCH_1}")
    set(name "${CMAKE_MATCH_2}")
    # Version-node definitions (type A, e.g. GPUPOOL_1.0) are not symbols.
    if(type STREQUAL "A")
      continue()
    endif()
    list(APPEND names "${name}")
    if(NOT name MATCHES "^cu" AND NOT name MATCHES "^(dlsym|nvmlDeviceGetMemoryInfo|nvmlDeviceGetMemoryInfo_v2)$")
      list(APPEND bad "${name} (${type})")
    endif()
  endif()
endforeach()
list(LENGTH names n)
message(STATUS "${n} exported symbols")
if(bad)
  list(JOIN bad "\n  " bad_text)
  message(SEND_ERROR "exported besides cu*, the NVML memory queries and dlsym:\n  ${bad_text}")
endif()
foreach(required dlsym nvmlDeviceGetMemoryInfo nvmlDeviceGetMemoryInfo_v2 cuGetProcAddress cuGetProcAddress_v2 cuMemAlloc_v2 cuMemFree_v2 cuMemGetInfo_v2
        cuDeviceTotalMem_v2 cuMemAllocManaged cuMemAllocPitch_v2 cuMemCreate cuMemRelease cuMemAllocAsync
        cuMemAllocFromPoolAsync cuMemFreeAsync cuArrayCreate_v2 cuArray3DCreate_v2 cuArrayDestroy
        # what the time-slice gate holds back (gate.h)
        cuLaunchKernel cuLaunchKernel_ptsz cuLaunchKernelEx cuLaunchCooperativeKernel cuGraphLaunch
        cuGraphLaunch_ptsz cuMemcpyHtoD_v2 cuMemcpyDtoH_v2_ptds cuMemcpyHtoDAsync_v2 cuMemcpy3D_v2
        cuMemcpyPeerAsync cuMemcpyBatchAsync_v2 cuMemsetD32_v2 cuMemsetD8Async_ptsz)
  if(NOT required IN_LIST names)
    message(SEND_ERROR "not exported: ${required}")
  endif()
endforeach()

execute_process(COMMAND ${READELF} -d "${SHIM}" OUTPUT_VARIABLE dynamic)
string(REGEX MATCHALL "\\(NEEDED\\)[^\n]*\\[[^]\n]+\\]" needed_lines "${dynamic}")
foreach(line IN LISTS needed_lines)
  string(REGEX REPLACE ".*\\[([^]]+)\\].*" "\\1" lib "${line}")
  message(STATUS "NEEDED ${lib}")
  if(NOT lib MATCHES "^(libc\\.so\\.6|libdl\\.so\\.2|libpthread\\.so\\.0|libm\\.so\\.6|librt\\.so\\.1|ld-linux-x86-64\\.so\\.2)$")
    message(SEND_ERROR "links ${lib}: only the C library's parts may be linked")
  endif()
endforeach()

execute_process(COMMAND ${NM} -D --undefined-only "${SHIM}" OUTPUT_VARIABLE undefined)
string(REPLACE "\n" ";" lines "${undefined}")
foreach(line IN LISTS lines)
  if(line MATCHES " U ([^ @]+)")
    set(name "${CMAKE_MATCH_1}")
    if(name MATCHES "^(_Z|__gxx_|_Unwind_|__cxa_(begin|end|throw|allocate|rethrow|guard|pure|get_exception))")
      message(SEND_ERROR "needs a C++ runtime symbol from the host process: ${name}")
    endif()
  endif()
endforeach()
