package io.gpupool.remote;

/**
 * A CallBatch of LaunchKernel calls only (what a program's stream of launches arrives as),
 * decoded by {@link LaunchBatchDecoder} straight from its frame instead of into protobuf
 * objects: per launch, its fields in one flat array, and its params as a range of the frame.
 *
 * <p>Ownership: the params ranges index into the frame buffer of the {@link InboundFrame} this
 * came with, valid until that frame is released. Threading: built on the event loop, then read
 * by whichever thread executes the batch (handed over through the session's executor).
 */
final class LaunchBatch {
  static final int SEQ = 0, FUNCTION = 1, GRID_X = 2, GRID_Y = 3, GRID_Z = 4, BLOCK_X = 5, BLOCK_Y = 6,
      BLOCK_Z = 7, SHARED_BYTES = 8, STREAM = 9, PARAMS_INDEX = 10, PARAMS_LENGTH = 11;
  static final int STRIDE = 12;

  private final long[] fields;
  private final int count;

  LaunchBatch(long[] fields, int count) {
    this.fields = fields;
    this.count = count;
  }

  int count() {
    return count;
  }

  /** Field {@code field} (one of the constants above) of launch {@code i}. */
  long get(int i, int field) {
    return fields[i * STRIDE + field];
  }

  /** The uint32 field {@code field} of launch {@code i}, as protobuf's Java API returns it (an int). */
  int getInt(int i, int field) {
    return (int) fields[i * STRIDE + field];
  }
}
