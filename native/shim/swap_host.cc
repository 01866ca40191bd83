// swap_host.cc — host buffers for swapped-out memory (swap_host.h).
#include "swap_host.h"

#include <sys/mman.h>
#include <unistd.h>

namespace gpupool::shim {
namespace {

uint64_t span_of(uint64_t bytes) {
  const uint64_t page = static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
  return (bytes + page - 1) / page * page;
}

}  // namespace

void* host_buffer_take(void** spare, uint64_t bytes) {
  if (*spare != nullptr) {
    void* buffer = *spare;
    *spare = nullptr;
    return buffer;
  }
  if (bytes == 0) return nullptr;
  void* p = mmap(nullptr, span_of(bytes), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  return p == MAP_FAILED ? nullptr : p;
}

void host_buffer_keep(void* buffer, void** spare, uint64_t bytes) {
  if (buffer == nullptr) return;
  host_buffer_free(*spare, bytes);
  // Failing (a kernel before 4.5) only means the pages stay: keep it anyway.
  madvise(buffer, span_of(bytes), MADV_FREE);
  *spare = buffer;
}

void host_buffer_free(void* buffer, uint64_t bytes) {
  if (buffer != nullptr) munmap(buffer, span_of(bytes));
}

}  // namespace gpupool::shim
