package io.gpupool.driver;

import static jcuda.driver.JCudaDriver.cuMemAlloc;
import static jcuda.driver.JCudaDriver.cuMemFree;
import static jcuda.driver.JCudaDriver.cuMemcpyDtoH;
import static jcuda.driver.JCudaDriver.cuMemcpyHtoD;

import jcuda.Pointer;
import jcuda.Sizeof;
import jcuda.driver.CUdeviceptr;

/** Device memory from {@code cuMemAlloc} in the current context; {@link #close} frees it. */
public final class DeviceBuffer implements AutoCloseable {
  private final CUdeviceptr pointer = new CUdeviceptr();
  private final long bytes;
  private boolean freed;

  public DeviceBuffer(long bytes) {
    this.bytes = bytes;
    Cuda.check("cuMemAlloc", cuMemAlloc(pointer, bytes));
  }

  public static DeviceBuffer of(float[] values) {
    DeviceBuffer buffer = new DeviceBuffer((long) values.length * Sizeof.FLOAT);
    try {
      buffer.copyFrom(values);
    } catch (CudaException e) {
      buffer.close();
      throw e;
    }
    return buffer;
  }

  public CUdeviceptr pointer() {
    return pointer;
  }

  public long bytes() {
    return bytes;
  }

  public void copyFrom(float[] values) {
    long size = checkedSize(values.length);
    Cuda.check("cuMemcpyHtoD", cuMemcpyHtoD(pointer, Pointer.to(values), size));
  }

  public void copyTo(float[] values) {
    long size = checkedSize(values.length);
    Cuda.check("cuMemcpyDtoH", cuMemcpyDtoH(Pointer.to(values), pointer, size));
  }

  private long checkedSize(int floats) {
    long size = (long) floats * Sizeof.FLOAT;
    if (size > bytes) {
      throw new IllegalArgumentException(size + " bytes do not fit a buffer of " + bytes);
    }
    return size;
  }

  @Override
  public void close() {
    if (freed) {
      return;
    }
    freed = true;
    Cuda.check("cuMemFree", cuMemFree(pointer));
  }
}
