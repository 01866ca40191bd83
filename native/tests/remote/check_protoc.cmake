# ctest remote_wire_protoc: the hand-written encoder (native/remote/wire.cc)
# against protoc. For each golden/client_NAME.txtpb: `protoc --encode` of the
# text must equal `remote_wire_test --encode NAME`, byte for byte. For each
# golden/server_NAME.txtpb: `protoc --encode` output must decode to the
# expected fields (`remote_wire_test --decode NAME`).
#   cmake -DPROTOC=<protoc or empty> -DWIRE_TEST=<exe> -DPROTO_DIR=<proto/>
#         -DCASES=<golden dir> -DWORK=<scratch dir> -P check_protoc.cmake
# Without protoc (none on PATH, none downloaded by Maven) it prints SKIPPED.
cmake_minimum_required(VERSION 3.20)
if(NOT PROTOC OR NOT EXISTS "${PROTOC}")
  message("SKIPPED: no protoc (on PATH or in ~/.m2 from a Maven build); the wire code is not cross-checked")
  return()
endif()
file(MAKE_DIRECTORY "${WORK}")
# Maven's download is not executable: use a copy that is.
get_filename_component(protoc_name "${PROTOC}" NAME)
file(COPY "${PROTOC}" DESTINATION "${WORK}"
  FILE_PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ GROUP_EXECUTE)
set(protoc "${WORK}/${protoc_name}")

file(GLOB cases RELATIVE "${CASES}" "${CASES}/*.txtpb")
list(LENGTH cases n)
if(n EQUAL 0)
  message(FATAL_ERROR "no golden cases in ${CASES}")
endif()
set(failed 0)
foreach(file IN LISTS cases)
  string(REGEX REPLACE "^(client|server)_(.*)\\.txtpb$" "\\1;\\2" parts "${file}")
  list(GET parts 0 side)
  list(GET parts 1 name)
  if(side STREQUAL "client")
    set(type gpupool.v1.ClientMessage)
  else()
    set(type gpupool.v1.ServerMessage)
  endif()
  execute_process(COMMAND "${protoc}" --encode=${type} -I "${PROTO_DIR}" gpupool/v1/remote.proto
    INPUT_FILE "${CASES}/${file}" OUTPUT_FILE "${WORK}/${side}_${name}.protoc.bin"
    ERROR_VARIABLE err RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(SEND_ERROR "protoc --encode ${file} failed: ${err}")
    continue()
  endif()
  if(side STREQUAL "client")
    execute_process(COMMAND "${WIRE_TEST}" --encode ${name} "${WORK}/${side}_${name}.mine.bin" RESULT_VARIABLE rc)
    execute_process(COMMAND ${CMAKE_COMMAND} -E compare_files
      "${WORK}/${side}_${name}.protoc.bin" "${WORK}/${side}_${name}.mine.bin" RESULT_VARIABLE same)
    if(NOT rc EQUAL 0 OR NOT same EQUAL 0)
      file(READ "${WORK}/${side}_${name}.protoc.bin" want HEX)
      file(READ "${WORK}/${side}_${name}.mine.bin" got HEX)
      message(SEND_ERROR "${file}: encoder differs from protoc\n  protoc: ${want}\n  mine:   ${got}")
      math(EXPR failed "${failed} + 1")
    else()
      message(STATUS "${file}: identical to protoc")
    endif()
  else()
    execute_process(COMMAND "${WIRE_TEST}" --decode ${name} "${WORK}/${side}_${name}.protoc.bin"
      OUTPUT_VARIABLE out RESULT_VARIABLE rc)
    if(NOT rc EQUAL 0)
      message(SEND_ERROR "${file}: decoding protoc's bytes failed:\n${out}")
      math(EXPR failed "${failed} + 1")
    else()
      message(STATUS "${file}: decoded")
    endif()
  endif()
endforeach()
message(STATUS "${n} golden cases, ${failed} failed (${PROTOC})")
