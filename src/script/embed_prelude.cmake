# embed_prelude.cmake — writes prelude.js into a C++ source as a raw string literal.
file(READ ${IN} content)
string(FIND "${content}" ")sbprelude\"" clash)
if(NOT clash EQUAL -1)
  message(FATAL_ERROR "prelude.js contains the raw string delimiter )sbprelude\"")
endif()
file(WRITE ${OUT} "// Generated from src/script/prelude.js by embed_prelude.cmake: do not edit.\n"
  "#include \"script/prelude_js.h\"\n\nnamespace stagebridge::script {\n\n"
  "std::string_view PreludeJs() {\n  static constexpr char kText[] = R\"sbprelude(${content})sbprelude\";\n"
  "  return {kText, sizeof kText - 1};\n}\n\n}  // namespace stagebridge::script\n")
