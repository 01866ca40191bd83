// Unit test of the shim's swap host buffers (native/shim/swap_host.h): a
// swapped-in allocation's buffer is kept and handed to its next swap-out.
#include <unistd.h>

#include <cstdint>
#include <cstring>

#include "../../shim/swap_host.h"
#include "driver_test.h"

using namespace gpupool::shim;

int main() {
  const uint64_t page = static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
  const uint64_t bytes = 3 * page + 5;  // not a whole number of pages

  dt::section("a new buffer: page-aligned, writable to its last byte");
  void* spare = nullptr;
  auto* first = static_cast<unsigned char*>(host_buffer_take(&spare, bytes));
  REQUIRE(first != nullptr);
  CHECK_EQ(reinterpret_cast<uintptr_t>(first) % page, uintptr_t{0});
  std::memset(first, 0x5a, bytes);
  CHECK_EQ(first[bytes - 1], 0x5a);

  dt::section("kept after a swap-in, and the next swap-out gets the same buffer");
  host_buffer_keep(first, &spare, bytes);
  CHECK(spare == first);
  auto* again = static_cast<unsigned char*>(host_buffer_take(&spare, bytes));
  CHECK(again == first);
  CHECK(spare == nullptr);
  // MADV_FREE: each byte is the old one, or zero if the kernel took the page back.
  bool old_or_zero = true;
  for (uint64_t i = 0; i < bytes; ++i) old_or_zero = old_or_zero && (again[i] == 0x5a || again[i] == 0);
  CHECK(old_or_zero);
  std::memset(again, 0xa5, bytes);
  CHECK_EQ(again[0], 0xa5);

  dt::section("keeping a second buffer replaces the spare");
  void* other = host_buffer_take(&spare, bytes);
  REQUIRE(other != nullptr);
  CHECK(other != again);
  host_buffer_keep(again, &spare, bytes);
  host_buffer_keep(other, &spare, bytes);
  CHECK(spare == other);

  dt::section("freeing");
  host_buffer_free(spare, bytes);
  host_buffer_free(nullptr, bytes);
  host_buffer_keep(nullptr, &spare, bytes);  // nothing to keep: the slot is left alone
  void* empty = nullptr;
  CHECK(host_buffer_take(&empty, 0) == nullptr);
  return dt::finish();
}
