# Every third-party package comes from Debian 12 (see scripts/setup).
find_package(Threads REQUIRED)
find_package(OpenMP REQUIRED)
# JSON parsing (core/json.cpp) and XXH64 content hashes (models/pipeline/
# manifest.cpp), both private to the file that uses them.
find_package(nlohmann_json 3 REQUIRED)
find_package(PkgConfig REQUIRED)
pkg_check_modules(XXHASH REQUIRED IMPORTED_TARGET libxxhash)
# ITKConnectedComponents and ITKLabelMap: post-processing rules
# (imaging/labels/label_rules.cpp).
find_package(ITK 5.2 REQUIRED COMPONENTS
  ITKCommon ITKIOImageBase ITKIONIFTI ITKIONRRD ITKIOMeta ITKIOGDCM ITKGDCM
  ITKConnectedComponents ITKLabelMap)
# JPEG decoding of DICOM pixel data (imaging/internal/jpeg_decode.cpp).
find_package(DCMTK CONFIG REQUIRED)
# DICOMweb (imaging/pacs/dicomweb.cpp).
find_package(CURL REQUIRED)
find_package(OpenCV 4 REQUIRED COMPONENTS core imgproc imgcodecs dnn)
find_package(VTK 9.1 REQUIRED COMPONENTS
  CommonCore CommonDataModel FiltersCore FiltersGeneral FiltersGeometry
  FiltersModeling IOGeometry ImagingCore ImagingGeneral)
# Debian's dnnl-config.cmake demands OpenCL (its GPU runtime), which Tessera
# does not use; find the CPU library directly instead.
find_path(DNNL_INCLUDE_DIR oneapi/dnnl/dnnl.hpp REQUIRED)
find_library(DNNL_LIBRARY dnnl REQUIRED)
add_library(tessera_dnnl INTERFACE)
target_include_directories(tessera_dnnl SYSTEM INTERFACE ${DNNL_INCLUDE_DIR})
target_link_libraries(tessera_dnnl INTERFACE ${DNNL_LIBRARY})
# ONNX's package configuration needs Protobuf found first.
find_package(Protobuf REQUIRED)
find_package(ONNX REQUIRED)
if(TESSERA_BUILD_GUI)
  find_package(Qt6 6.4 REQUIRED COMPONENTS Core Gui Widgets OpenGL OpenGLWidgets Concurrent Test)
  find_package(VTK 9.1 REQUIRED COMPONENTS
    RenderingCore RenderingOpenGL2 RenderingVolumeOpenGL2 RenderingAnnotation
    InteractionStyle InteractionWidgets RenderingFreeType)
endif()
if(TESSERA_BUILD_TESTS)
  find_package(GTest REQUIRED)
endif()
