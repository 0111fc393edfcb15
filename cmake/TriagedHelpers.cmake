# Per-target warning and sanitizer helpers (the shape of spdlog's), applied to our targets only.

function(triaged_enable_warnings target)
  target_compile_options(${target} PRIVATE
    $<$<COMPILE_LANGUAGE:CXX>:-Wall -Wextra -Wpedantic -Wconversion -Wsign-conversion -Wshadow
      -Wnon-virtual-dtor -Wold-style-cast -Woverloaded-virtual -Wnull-dereference
      -Wimplicit-fallthrough>)
  if(TRIAGED_WERROR)
    target_compile_options(${target} PRIVATE $<$<COMPILE_LANGUAGE:CXX>:-Werror>)
  endif()
endfunction()

function(triaged_enable_sanitizers target)
  if(TRIAGED_SANITIZE STREQUAL "none" OR TRIAGED_SANITIZE STREQUAL "")
    return()
  endif()
  string(REPLACE ";" "," san "${TRIAGED_SANITIZE}")
  target_compile_options(${target} PRIVATE -fsanitize=${san} -fno-sanitize-recover=all
    -fno-omit-frame-pointer)
  target_link_options(${target} PRIVATE -fsanitize=${san})
endfunction()
