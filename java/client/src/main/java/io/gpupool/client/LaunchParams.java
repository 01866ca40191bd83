package io.gpupool.client;

/** Packs launch arguments into a kernel's parameter buffer, at the offsets the worker reported. */
final class LaunchParams {
  private LaunchParams() {}

  static byte[] pack(GpuBackend.Function f, byte[][] args) {
    int[] offsets = f.paramOffsets();
    int[] sizes = f.paramSizes();
    if (args.length != offsets.length) {
      throw new IllegalArgumentException(f.name() + " takes " + offsets.length + " parameters, "
          + args.length + " arguments given");
    }
    int end = 0;
    for (int i = 0; i < args.length; i++) {
      if (args[i].length != sizes[i]) {
        throw new IllegalArgumentException(f.name() + "'s parameter " + i + " is " + sizes[i]
            + " bytes, its argument " + args[i].length + " (arg(int) for 4 bytes, arg(long),"
            + " arg(double) or a DeviceBuffer for 8)");
      }
      end = Math.max(end, offsets[i] + sizes[i]);
    }
    byte[] buffer = new byte[end];
    for (int i = 0; i < args.length; i++) {
      System.arraycopy(args[i], 0, buffer, offsets[i], sizes[i]);
    }
    return buffer;
  }
}
