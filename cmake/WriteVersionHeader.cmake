# WriteVersionHeader.cmake — writes stagebridge_version.h (cmake/version.h.in) with the
# version and the git commit of the source tree. Run in script mode (cmake -P), at
# configure time and by the sb_version_header target on every build; the file is
# rewritten only when its text changes, so a build at the same commit recompiles nothing.
#   -DSB_SOURCE_DIR=… -DSB_VERSION=… -DSB_TEMPLATE=…/version.h.in -DSB_OUTPUT=…/stagebridge_version.h
#   [-DGIT_EXECUTABLE=…]
set(SB_GIT_COMMIT unknown)
if(GIT_EXECUTABLE)
  # Only the source tree's own repository counts: a tarball unpacked inside some other
  # checkout (a packaging repository, say) has no commit of its own.
  execute_process(COMMAND "${GIT_EXECUTABLE}" -C "${SB_SOURCE_DIR}" rev-parse --show-toplevel
                  OUTPUT_VARIABLE top RESULT_VARIABLE rc OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
  if(rc EQUAL 0)
    file(REAL_PATH "${top}" top)
    file(REAL_PATH "${SB_SOURCE_DIR}" source)
  endif()
  if(rc EQUAL 0 AND top STREQUAL source)
    execute_process(COMMAND "${GIT_EXECUTABLE}" -C "${SB_SOURCE_DIR}" rev-parse --short=7 HEAD
                    OUTPUT_VARIABLE commit RESULT_VARIABLE rc OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
    if(rc EQUAL 0 AND commit)
      set(SB_GIT_COMMIT "${commit}")
      # --no-optional-locks: never take .git/index.lock (a build must not make a
      # concurrent `git commit` fail); untracked files (build dirs) do not count.
      execute_process(COMMAND "${GIT_EXECUTABLE}" -C "${SB_SOURCE_DIR}" --no-optional-locks status --porcelain
                              --untracked-files=no --ignore-submodules
                      OUTPUT_VARIABLE changes RESULT_VARIABLE rc ERROR_QUIET)
      if(rc EQUAL 0 AND NOT changes STREQUAL "")
        string(APPEND SB_GIT_COMMIT "-dirty")
      endif()
    endif()
  endif()
endif()
configure_file("${SB_TEMPLATE}" "${SB_OUTPUT}" @ONLY)
