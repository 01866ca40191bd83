package io.gpupool.remote;

/**
 * A CallBatch of LaunchKernel calls only (what a program's stream of launches arrives as),
 * decoded by {@link LaunchBatchDecoder} from its frame's bytes instead of into protobuf
 * objects: per launch, its fields in one flat array, and its params as a range of those bytes.
 *
 * <p>Ownership: holds a copy of the frame's bytes (never changed), so it does not depend on the
 * frame buffer. Threading: built on the event loop, then read by whichever thread executes the
 * batch (handed over through the session's executor).
 */
final class LaunchBatch {
  static final int SEQ = 0, FUNCTION = 1, GRID_X = 2, GRID_Y = 3, GRID_Z = 4, BLOCK_X = 5, BLOCK_Y = 6,
      BLOCK_Z = 7, SHARED_BYTES = 8, STREAM = 9, PARAMS_INDEX = 10, PARAMS_LENGTH = 11;
  static final int STRIDE = 12;

  private final byte[] bytes;
  private final long[] fields;
  private final int count;

  LaunchBatch(byte[] bytes, long[] fields, int count) {
    this.bytes = bytes;
    this.fields = fields;
    this.count = count;
  }

  /** The frame's bytes, which PARAMS_INDEX indexes. */
  byte[] bytes() {
    return bytes;
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
