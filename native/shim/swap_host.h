// swap_host.h — the host buffers that hold a swappable allocation's bytes while
// it is swapped out (swap_out.cc fills one, swap_in.cc empties it).
//
// Contract
//   A buffer is page-aligned private anonymous memory of `bytes` rounded up to
//   whole pages, writable, with no initial contents. After a swap-in the
//   buffer is not freed but kept as the record's spare: the next swap-out of
//   the same allocation writes into it instead of faulting in fresh pages (a
//   fault and a zeroed page per 4 KiB cost several times the copy itself).
//   A kept buffer is marked MADV_FREE: until it is written again the kernel
//   may take its pages back under memory pressure (they then read as zeros,
//   which is harmless: a swap-out overwrites every byte before anything reads
//   it). So it costs host memory only while nobody else needs it.
//
// Threading and ownership
//   No state of its own. The caller owns the buffers and the spare slot (a
//   SwapRecord's, used only by the thread that claimed its device:
//   swap_internal.h).
#pragma once

#include <cstdint>

namespace gpupool::shim {

// A buffer for `bytes` bytes: *spare if set (then *spare becomes nullptr),
// else new memory; nullptr when no memory can be had.
void* host_buffer_take(void** spare, uint64_t bytes);

// Makes `buffer` (its bytes no longer needed) the spare *spare; a spare
// already there is freed.
void host_buffer_keep(void* buffer, void** spare, uint64_t bytes);

// Frees a buffer of `bytes` bytes; nullptr is nothing.
void host_buffer_free(void* buffer, uint64_t bytes);

}  // namespace gpupool::shim
