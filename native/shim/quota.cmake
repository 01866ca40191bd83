# The quota engine behind quota.h, as a static library for the shim:
#   include(${CMAKE_CURRENT_SOURCE_DIR}/quota.cmake)   # from native/shim/CMakeLists.txt
#   target_link_libraries(<shim> PRIVATE gpupool_shim_quota)
# Position-independent and with hidden visibility: linked into the preloaded
# shim, it exports nothing. Unit test: native/tests/shim_unit.
if(TARGET gpupool_shim_quota)
  return()
endif()
add_library(gpupool_shim_quota STATIC
  ${CMAKE_CURRENT_LIST_DIR}/quota.cc
  ${CMAKE_CURRENT_LIST_DIR}/agent_table.cc
  ${CMAKE_CURRENT_LIST_DIR}/region.cc
  ${CMAKE_CURRENT_LIST_DIR}/shim_config.cc
  ${CMAKE_CURRENT_LIST_DIR}/log.cc)
target_include_directories(gpupool_shim_quota PUBLIC
  ${CMAKE_CURRENT_LIST_DIR}
  ${CMAKE_CURRENT_LIST_DIR}/../include)
target_compile_features(gpupool_shim_quota PUBLIC cxx_std_17)
target_compile_options(gpupool_shim_quota PRIVATE
  -fPIC -fvisibility=hidden -fvisibility-inlines-hidden -Wall -Wextra)
set_target_properties(gpupool_shim_quota PROPERTIES POSITION_INDEPENDENT_CODE ON)
target_link_libraries(gpupool_shim_quota PUBLIC Threads::Threads)
