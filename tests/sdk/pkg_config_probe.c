/* Built with nothing but `pkg-config --cflags --libs tessera` against an
 * installed SDK: prints the library's version and ABI. */
#include <stdio.h>

#include <tessera/tessera.h>

int main(void) {
  printf("%s %d\n", tessera_version(), tessera_abi_version());
  return tessera_abi_version() == TESSERA_ABI_VERSION ? 0 : 1;
}
