# Installs the build into a fresh prefix, then checks what a lab gets there:
# headers free of toolkit includes, a library exporting the C API alone, an
# out-of-tree CMake project (examples/segment_volume) that finds the package,
# builds, and segments the reference phantom exactly as `tessera segment`
# does (with the model installed beside the library), a C program built
# with pkg-config alone, and the Python module with examples/python/segment.py.
# Run by ctest (tests/sdk/CMakeLists.txt).
foreach(var BUILD_DIR SOURCE_DIR WORK REFERENCE GENERATOR CXX CC VERSION)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "pass -D${var}=")
  endif()
endforeach()

function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    list(JOIN ARGN " " command)
    message(FATAL_ERROR "${command}\nexit ${rc}\n${out}\n${err}")
  endif()
  set(run_output "${out}" PARENT_SCOPE)
endfunction()

set(prefix ${WORK}/prefix)
file(REMOVE_RECURSE ${WORK})
file(MAKE_DIRECTORY ${WORK})
run(${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${prefix})

# Installed headers: the standard library and each other, nothing else.
file(GLOB headers ${prefix}/include/tessera/*)
list(LENGTH headers header_count)
if(NOT header_count EQUAL 3)
  message(FATAL_ERROR "expected tessera.h, tessera.hpp and plugin.h under include/tessera, found: ${headers}")
endif()
foreach(header IN LISTS headers)
  file(STRINGS ${header} includes REGEX "^[ \t]*#[ \t]*include")
  foreach(line IN LISTS includes)
    if(NOT line MATCHES "^#include (<[a-z_]+(\\.h)?>|\"tessera/tessera\\.h\")$")
      message(FATAL_ERROR "${header}: '${line}' is neither a standard header nor the SDK's")
    endif()
  endforeach()
endforeach()

# The library: its SONAME follows the ABI version, and it exports tessera_*
# under TESSERA_1 and nothing else.
file(GLOB libraries ${prefix}/lib*/libtessera.so)
if(NOT libraries)
  message(FATAL_ERROR "no libtessera.so under ${prefix}")
endif()
list(GET libraries 0 library)
get_filename_component(libdir ${library} DIRECTORY)
run(readelf -d ${library})
if(NOT run_output MATCHES "SONAME[^\n]*\\[libtessera\\.so\\.1\\]")
  message(FATAL_ERROR "libtessera's SONAME is not libtessera.so.1:\n${run_output}")
endif()
run(nm -D --defined-only ${library})
string(REGEX MATCHALL "[^\n]+" symbols "${run_output}")
set(exported 0)
foreach(line IN LISTS symbols)
  if(line MATCHES " A TESSERA_1$")
    continue()
  endif()
  if(NOT line MATCHES " T tessera_[a-z0-9_]+@@TESSERA_1$")
    message(FATAL_ERROR "libtessera exports more than the C API: '${line}'")
  endif()
  math(EXPR exported "${exported} + 1")
endforeach()
if(exported LESS 20)
  message(FATAL_ERROR "libtessera exports only ${exported} tessera_* functions")
endif()

# The out-of-tree example, found through TesseraConfig.cmake.
set(example ${WORK}/example)
run(${CMAKE_COMMAND} -S ${SOURCE_DIR}/examples/segment_volume -B ${example} -G ${GENERATOR}
    -DCMAKE_CXX_COMPILER=${CXX} -DCMAKE_PREFIX_PATH=${prefix} -DCMAKE_BUILD_TYPE=Release)
run(${CMAKE_COMMAND} --build ${example})
run(${example}/segment_volume ${REFERENCE}/ct.nii.gz ${WORK}/example_sparse.nii)
# The model came from the prefix, beside the installed library.
string(FIND "${run_output}" "(${prefix}/share/tessera/models/tessera-default.onnx)" at)
if(NOT run_output MATCHES "^Tessera ${VERSION}, model " OR at LESS 0
   OR NOT run_output MATCHES "of blocks computed")
  message(FATAL_ERROR "unexpected output of segment_volume:\n${run_output}")
endif()
run(${CMAKE_COMMAND} -E compare_files ${REFERENCE}/cli_sparse.nii ${WORK}/example_sparse.nii)
run(${example}/segment_volume ${REFERENCE}/ct.nii.gz ${WORK}/example_dense.nii --dense)
run(${CMAKE_COMMAND} -E compare_files ${REFERENCE}/cli_dense.nii ${WORK}/example_dense.nii)
# A model that does not exist: exit 1 with the reason, nothing written.
execute_process(COMMAND ${example}/segment_volume ${REFERENCE}/ct.nii.gz ${WORK}/never.nii
                        --model ${WORK}/missing.onnx
                RESULT_VARIABLE rc ERROR_VARIABLE err)
if(NOT rc EQUAL 1 OR NOT err MATCHES "missing\\.onnx" OR EXISTS ${WORK}/never.nii)
  message(FATAL_ERROR "segment_volume with a missing model: exit ${rc}, '${err}'")
endif()

# The example plugin built out of tree against the prefix (Tessera::headers),
# used by the installed command line: the same labels as the plugin
# installed with Tessera.
set(plugin_build ${WORK}/plugin)
run(${CMAKE_COMMAND} -S ${SOURCE_DIR}/examples/plugins/largest_component -B ${plugin_build}
    -G ${GENERATOR} -DCMAKE_C_COMPILER=${CC} -DCMAKE_PREFIX_PATH=${prefix})
run(${CMAKE_COMMAND} --build ${plugin_build})
foreach(folder ${plugin_build} ${libdir}/tessera/plugins)
  get_filename_component(tag ${folder} NAME)
  run(${prefix}/bin/tessera segment -i ${REFERENCE}/ct.nii.gz -o ${WORK}/staged_${tag}.nii
      --plugins ${folder} --stages largest_component)
endforeach()
run(${CMAKE_COMMAND} -E compare_files ${WORK}/staged_plugin.nii ${WORK}/staged_plugins.nii)

# A layer plugin built out of tree the same way: the installed command line
# loads it (its reference and CPU versions checked against each other) and
# lists its layer.
set(layer_build ${WORK}/layer_plugin)
run(${CMAKE_COMMAND} -S ${SOURCE_DIR}/examples/plugins/group_norm -B ${layer_build}
    -G ${GENERATOR} -DCMAKE_C_COMPILER=${CC} -DCMAKE_PREFIX_PATH=${prefix})
run(${CMAKE_COMMAND} --build ${layer_build})
run(${prefix}/bin/tessera plugins --plugins ${layer_build})
if(NOT run_output MATCHES "layer group_norm")
  message(FATAL_ERROR "the out-of-tree layer plugin is not listed:\n${run_output}")
endif()

# pkg-config alone, from a C compiler.
set(ENV{PKG_CONFIG_PATH} ${libdir}/pkgconfig)
run(pkg-config --cflags --libs tessera)
separate_arguments(flags UNIX_COMMAND "${run_output}")
run(${CC} -std=c11 -Wall -Werror ${SOURCE_DIR}/tests/sdk/pkg_config_probe.c ${flags}
    -Wl,-rpath,${libdir} -o ${WORK}/pkg_config_probe)
run(${WORK}/pkg_config_probe)
if(NOT run_output STREQUAL "${VERSION} 1\n")
  message(FATAL_ERROR "pkg_config_probe printed '${run_output}'")
endif()
# The Python module from the prefix, with the model beside the library, and
# examples/python/segment.py through it (byte-identical to the CLI).
if(PYTHON)
  set(ENV{PYTHONPATH} ${libdir}/python3/dist-packages)
  file(WRITE ${WORK}/probe.py "import tessera\nprint(tessera.__version__, tessera.load_model().path)\n")
  run(${PYTHON} ${WORK}/probe.py)
  if(NOT run_output STREQUAL "${VERSION} ${prefix}/share/tessera/models/tessera-default.onnx\n")
    message(FATAL_ERROR "the installed Python module printed '${run_output}'")
  endif()
  run(${PYTHON} ${SOURCE_DIR}/examples/python/segment.py ${REFERENCE}/ct.nii.gz
      ${WORK}/python_sparse.nii)
  run(${CMAKE_COMMAND} -E compare_files ${REFERENCE}/cli_sparse.nii ${WORK}/python_sparse.nii)
endif()
message(STATUS "SDK installed in ${prefix}: headers, ${exported} exported functions, example and pkg-config checked")
