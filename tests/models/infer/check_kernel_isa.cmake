# Checks which vector registers the inference kernels in a binary or in
# object files use, from their disassembly. Run as:
#   cmake -DOBJDUMP=<objdump> -DBINARY=<file>[|<file>...] -DEXPECT_ZMM=OFF|ON
#         [-DEXCLUDE=<text>] -P check_kernel_isa.cmake
# EXPECT_ZMM=OFF: no function in tessera::models::infer (except those whose
# name contains EXCLUDE) may touch a zmm register (the kernels were built
# without AVX-512). EXPECT_ZMM=ON: the kernels must use zmm registers.
if(NOT OBJDUMP OR NOT BINARY)
  message(FATAL_ERROR "pass -DOBJDUMP=<objdump> -DBINARY=<binary>")
endif()
string(REPLACE "|" ";" files "${BINARY}")
set(skip "")
if(EXCLUDE)
  set(skip " && $0 !~ /${EXCLUDE}/")
endif()

# awk prints "F <function>" for every function of the namespace and
# "Z <function>" for each of its instructions naming a zmm register.
execute_process(
  COMMAND ${OBJDUMP} -d -C --no-show-raw-insn ${files}
  COMMAND awk "/^[0-9a-f]+ <.*>:$/ { fn = \"\"; if ($0 ~ /tessera::models::infer::/${skip}) { fn = $0; print \"F \" fn } next } fn != \"\" && /zmm/ { print \"Z \" fn }"
  OUTPUT_VARIABLE listing
  RESULT_VARIABLE status)
if(NOT status EQUAL 0)
  message(FATAL_ERROR "disassembling ${BINARY} failed: ${status}")
endif()

string(REGEX MATCHALL "F [^\n]*" functions "${listing}")
string(REGEX MATCHALL "Z [^\n]*" zmm "${listing}")
list(REMOVE_DUPLICATES zmm)
list(LENGTH zmm zmmFunctions)
foreach(kernel conv2d3x3Rows convTranspose2x2Rows conv2d1x1ArgmaxRows maxPool2x2Rows)
  if(NOT functions MATCHES "::${kernel}\\(")
    message(FATAL_ERROR "${BINARY} has no function ${kernel}: nothing to check")
  endif()
endforeach()

if(EXPECT_ZMM)
  if(NOT zmm MATCHES "Tile<|Rows\\(")
    message(FATAL_ERROR "the kernels in ${BINARY} use no zmm register")
  endif()
  message(STATUS "${zmmFunctions} functions of the kernels use zmm registers")
elseif(zmmFunctions GREATER 0)
  list(JOIN zmm "\n  " text)
  message(FATAL_ERROR "functions built without AVX-512 use zmm registers:\n  ${text}")
else()
  message(STATUS "no zmm register in the kernels of ${BINARY}")
endif()
