// Forced into every file of the fuzz build (CMakePresets.json, preset
// fuzz). Debian's ITK 5.2 was configured with GCC alone: its generated
// itk_compiler_detection.h knows no other compiler and stops with
// "Unsupported compiler". Clang implements the C++ features that header
// reports for GCC 12, so the header is read once here as if by GCC 12;
// its include guard then keeps ITK's own include from reading it again.
// Files that do not see ITK's include directory are not affected.
#pragma once

#if defined(__clang__) && defined(__cplusplus) && __has_include(<itk_compiler_detection.h>)
#pragma push_macro("__clang__")
#pragma push_macro("__GNUC__")
#pragma push_macro("__GNUC_MINOR__")
#pragma push_macro("__GNUC_PATCHLEVEL__")
#undef __clang__
#undef __GNUC__
#undef __GNUC_MINOR__
#undef __GNUC_PATCHLEVEL__
#define __GNUC__ 12
#define __GNUC_MINOR__ 2
#define __GNUC_PATCHLEVEL__ 0
#include <itk_compiler_detection.h>
#pragma pop_macro("__GNUC_PATCHLEVEL__")
#pragma pop_macro("__GNUC_MINOR__")
#pragma pop_macro("__GNUC__")
#pragma pop_macro("__clang__")
#endif
