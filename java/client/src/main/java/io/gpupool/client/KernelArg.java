package io.gpupool.client;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * One typed kernel argument: {@code kernel.launch(config, arg(n), arg(2.0f), arg(x), arg(y))}.
 * A {@link DeviceBuffer} passes its device pointer. Values are little-endian, as the
 * device reads them.
 */
public final class KernelArg {
  private final byte[] bytes;
  private final DeviceBuffer buffer;

  private KernelArg(byte[] bytes, DeviceBuffer buffer) {
    this.bytes = bytes;
    this.buffer = buffer;
  }

  public static KernelArg arg(int value) {
    return new KernelArg(ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(value).array(), null);
  }

  public static KernelArg arg(long value) {
    return new KernelArg(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(value).array(), null);
  }

  public static KernelArg arg(float value) {
    return arg(Float.floatToRawIntBits(value));
  }

  public static KernelArg arg(double value) {
    return arg(Double.doubleToRawLongBits(value));
  }

  /** A parameter's raw bytes, as the kernel lays it out (a struct passed by value). */
  public static KernelArg raw(byte[] bytes) {
    return new KernelArg(bytes.clone(), null);
  }

  public static KernelArg arg(DeviceBuffer buffer) {
    if (buffer == null) {
      throw new IllegalArgumentException("null DeviceBuffer as a kernel argument");
    }
    return new KernelArg(null, buffer);
  }

  /** The argument's bytes as the kernel's parameter buffer holds them. */
  byte[] bytes(RemoteGpu gpu) {
    if (buffer == null) {
      return bytes;
    }
    if (buffer.gpu() != gpu) {
      throw new IllegalArgumentException("a DeviceBuffer of another RemoteGpu as a kernel argument");
    }
    return ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(buffer.devicePointer()).array();
  }
}
