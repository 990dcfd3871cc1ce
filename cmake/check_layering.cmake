# Fails when a source file includes something its folder may not use
# (docs/ARCHITECTURE.md, "Layers"). Run as:
#   cmake -DROOT=<tree> -P check_layering.cmake
if(NOT ROOT)
  message(FATAL_ERROR "pass -DROOT=<source tree>")
endif()

set(TOOLKITS "itk|vtk|Q[A-Za-z0-9]+|qt[a-z]*/|opencv2|opencv/|gdcm|dcmtk/")
set(violations "")

function(check_folder folder pattern what only_headers)
  if(only_headers)
    file(GLOB_RECURSE files "${ROOT}/${folder}/*.h" "${ROOT}/${folder}/*.hpp")
  else()
    file(GLOB_RECURSE files "${ROOT}/${folder}/*.h" "${ROOT}/${folder}/*.hpp"
                            "${ROOT}/${folder}/*.cpp" "${ROOT}/${folder}/*.cu"
                            "${ROOT}/${folder}/*.cuh")
  endif()
  if(only_headers)
    list(FILTER files EXCLUDE REGEX "/internal/")
  endif()
  foreach(file IN LISTS files)
    file(STRINGS "${file}" lines REGEX "^[ \t]*#[ \t]*include[ \t]*[<\"]")
    foreach(line IN LISTS lines)
      string(REGEX REPLACE "^[ \t]*#[ \t]*include[ \t]*[<\"]([^>\"]*)[>\"].*$" "\\1" header "${line}")
      if(header MATCHES "^(${pattern})")
        file(RELATIVE_PATH rel "${ROOT}" "${file}")
        list(APPEND violations "${rel}: includes <${header}> (${what})")
      endif()
    endforeach()
  endforeach()
  set(violations "${violations}" PARENT_SCOPE)
endfunction()

# core: standard library and OpenMP only.
check_folder(core "imaging/|models/|ui/|app/|${TOOLKITS}|dnnl|oneapi/|onnx/|cuda|cudnn|cublas"
             "core uses the standard library and OpenMP only" FALSE)
# imaging: core and the toolkits, privately; never models, ui, app or Qt.
check_folder(imaging "models/|ui/|app/|Q[A-Za-z0-9]+|qt[a-z]*/"
             "imaging may not use models, ui, app or Qt" FALSE)
# imaging headers: no toolkit types in the interface (internal/ is private glue).
check_folder(imaging "${TOOLKITS}" "toolkit types stay out of imaging headers" TRUE)
# models: never ui, app, Qt or VTK rendering.
check_folder(models "ui/|app/|Q[A-Za-z0-9]+|qt[a-z]*/|vtkRender|vtkOpenGL"
             "models may not use ui, app, Qt or VTK rendering" FALSE)
# models headers: no ITK, VTK, Qt or OpenCV types.
check_folder(models "${TOOLKITS}" "toolkit types stay out of models headers" TRUE)
# The engine (tessera_nn) links tessera_core, oneDNN and ONNX only: no imaging,
# no toolkit, in any file.
foreach(nn_folder backend ops net infer io)
  check_folder(models/${nn_folder} "imaging/|models/pipeline/|models/train/|${TOOLKITS}"
               "the engine (tessera_nn) uses core, oneDNN and ONNX only" FALSE)
endforeach()
# sdk: the installed headers use the standard library and each other only;
# the library below them may use core, imaging and models, never ui or app.
check_folder(sdk/include "core/|imaging/|models/|ui/|app/|${TOOLKITS}|dnnl|oneapi/|onnx/|cuda"
             "installed SDK headers use the standard library and tessera/ only" FALSE)
check_folder(sdk "ui/|app/|Q[A-Za-z0-9]+|qt[a-z]*/" "the SDK may not use ui, app or Qt" FALSE)
# The service node: core, imaging and models, never ui or Qt.
check_folder(app/serve "ui/|Q[A-Za-z0-9]+|qt[a-z]*/" "the service node may not use ui or Qt" FALSE)
# ui: everything below, never app.
check_folder(ui "app/" "ui may not use app" FALSE)
# ui/model: toolkit-free view models, tested without a display.
check_folder(ui/model "${TOOLKITS}|ui/widgets/|ui/render/"
             "ui/model holds toolkit-free view models" FALSE)

# A header under X/internal/ is private to folder X (and to the tests).
file(GLOB_RECURSE all_sources "${ROOT}/*.h" "${ROOT}/*.hpp" "${ROOT}/*.cpp" "${ROOT}/*.cu"
                              "${ROOT}/*.cuh")
list(FILTER all_sources EXCLUDE REGEX "^${ROOT}/(tests|build)/")
foreach(file IN LISTS all_sources)
  file(RELATIVE_PATH rel "${ROOT}" "${file}")
  file(STRINGS "${file}" lines REGEX "^[ \t]*#[ \t]*include[ \t]*\"[^\"]*/internal/")
  foreach(line IN LISTS lines)
    string(REGEX REPLACE "^[ \t]*#[ \t]*include[ \t]*\"([^\"]*)\".*$" "\\1" header "${line}")
    string(REGEX REPLACE "/internal/.*$" "/" owner "${header}")
    string(FIND "${rel}" "${owner}" at)
    if(NOT at EQUAL 0)
      list(APPEND violations "${rel}: includes <${header}> (private to ${owner})")
    endif()
  endforeach()
endforeach()

if(violations)
  list(JOIN violations "\n  " text)
  message(FATAL_ERROR "layering violations:\n  ${text}")
endif()
message(STATUS "layering ok")
