# Version.cmake — the generated header stagebridge_version.h (STAGEBRIDGE_VERSION,
# STAGEBRIDGE_GIT_COMMIT, STAGEBRIDGE_VERSION_LINE) behind the interface library
# sb_version: link it to include the header; the link also orders the build after
# sb_version_header, which re-reads the git commit on every build (a few ms).
find_package(Git QUIET)
set(_sb_version_header ${PROJECT_BINARY_DIR}/generated/stagebridge_version.h)
set(_sb_version_args
    -DSB_SOURCE_DIR=${PROJECT_SOURCE_DIR} -DSB_VERSION=${PROJECT_VERSION}
    -DSB_TEMPLATE=${CMAKE_CURRENT_LIST_DIR}/version.h.in -DSB_OUTPUT=${_sb_version_header}
    -DGIT_EXECUTABLE=${GIT_EXECUTABLE})
# Once now, so the header exists before the first build (editors, clang-tidy).
execute_process(COMMAND ${CMAKE_COMMAND} ${_sb_version_args} -P ${CMAKE_CURRENT_LIST_DIR}/WriteVersionHeader.cmake
                COMMAND_ERROR_IS_FATAL ANY)
add_custom_target(sb_version_header
  COMMAND ${CMAKE_COMMAND} ${_sb_version_args} -P ${CMAKE_CURRENT_LIST_DIR}/WriteVersionHeader.cmake
  BYPRODUCTS ${_sb_version_header}
  COMMENT "Reading the git commit for stagebridge_version.h"
  VERBATIM)
add_library(sb_version INTERFACE)
target_include_directories(sb_version INTERFACE ${PROJECT_BINARY_DIR}/generated)
add_dependencies(sb_version sb_version_header)
