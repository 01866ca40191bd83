package io.gpupool.client;

/**
 * Grid, block, dynamic shared memory and stream of a kernel launch. Immutable:
 * {@code LaunchConfig.grid(g).block(256).sharedBytes(0).stream(s)}.
 */
public final class LaunchConfig {
  private final int[] grid;
  private final int[] block;
  private final int sharedBytes;
  private final Stream stream;

  private LaunchConfig(int[] grid, int[] block, int sharedBytes, Stream stream) {
    this.grid = grid;
    this.block = block;
    this.sharedBytes = sharedBytes;
    this.stream = stream;
  }

  /** A 1-D grid of {@code x} blocks of one thread each (set the block next). */
  public static LaunchConfig grid(int x) {
    return grid(x, 1, 1);
  }

  public static LaunchConfig grid(int x, int y, int z) {
    return new LaunchConfig(new int[] {x, y, z}, new int[] {1, 1, 1}, 0, null);
  }

  public LaunchConfig block(int x) {
    return block(x, 1, 1);
  }

  public LaunchConfig block(int x, int y, int z) {
    return new LaunchConfig(grid, new int[] {x, y, z}, sharedBytes, stream);
  }

  public LaunchConfig sharedBytes(int bytes) {
    return new LaunchConfig(grid, block, bytes, stream);
  }

  /** The stream to launch on; null (the default): the GPU's default stream. */
  public LaunchConfig stream(Stream stream) {
    return new LaunchConfig(grid, block, sharedBytes, stream);
  }

  int gridDim(int axis) {
    return grid[axis];
  }

  int blockDim(int axis) {
    return block[axis];
  }

  int sharedBytes() {
    return sharedBytes;
  }

  Stream stream() {
    return stream;
  }

  @Override
  public String toString() {
    return "grid(" + grid[0] + "," + grid[1] + "," + grid[2] + ") block(" + block[0] + ","
        + block[1] + "," + block[2] + ") shared " + sharedBytes;
  }
}
