package io.gpupool.agent.slicing;

import io.gpupool.region.binding.GpupoolLayout;

/** slices[d].grant and .evict as node_table.h packs them: (sequence &lt;&lt; 8) | holder. */
final class SliceGrant {
  static final int NOBODY = GpupoolLayout.GPUPOOL_SLICE_NOBODY;
  static final int OPEN = GpupoolLayout.GPUPOOL_SLICE_OPEN;

  private SliceGrant() {}

  static long of(long sequence, int holder) {
    return (sequence << 8) | (holder & 0xFFL);
  }

  static int holder(long grant) {
    return (int) (grant & 0xFF);
  }

  static long sequence(long grant) {
    return grant >>> 8;
  }

  /** The holder value of table entry {@code entry}: entry + 1 (1..128; 0 and 255 are reserved). */
  static int holderOfEntry(int entry) {
    return entry + 1;
  }
}
