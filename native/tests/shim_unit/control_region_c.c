/* Compiles control_region.h as C11 (the header must stay plain C for the
 * agent's JavaCPP binding) and reports the size C sees to the C++ test. */
#include "gpupool/control_region.h"

size_t gpupool_test_region_size_from_c(void) { return sizeof(gpupool_region); }
