# Compiler settings shared by every Tessera target, applied through an
# interface target so that third-party code keeps its own flags.
add_library(tessera_options INTERFACE)
# -Wno-restrict: GCC 12 reports false positives inside libstdc++ string code.
target_compile_options(tessera_options INTERFACE -Wall -Wextra -Wno-unused-parameter -Wno-restrict
  -Wno-missing-field-initializers)
if(TESSERA_NATIVE)
  target_compile_options(tessera_options INTERFACE -march=native)
endif()
if(TESSERA_SANITIZE)
  target_compile_options(tessera_options INTERFACE -fsanitize=address,undefined
                                                   -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  target_link_options(tessera_options INTERFACE -fsanitize=address,undefined)
endif()
target_compile_definitions(tessera_options INTERFACE TESSERA_VERSION="${PROJECT_VERSION}")
# The source tree's path is compiled only into the files that look there (the
# bundled model next to an uninstalled build, the PyTorch peer's script), so
# that every other object does not depend on where the tree lies.
