package io.gpupool.remote;

import jcuda.driver.CUdeviceptr;

/**
 * A CUdeviceptr that tells its address: JCuda keeps it in a protected field, and the worker
 * needs the number to hand it to the client (which puts it into kernel parameters and does
 * pointer arithmetic on it) and to check the client's pointers against the session's own.
 */
final class DevicePointer extends CUdeviceptr {
  /** A pointer for JCuda to fill in (cuMemAlloc and the like). */
  DevicePointer() {}

  /**
   * A pointer to an address the driver returned outside JCuda (through {@link DriverFunctions}):
   * JCuda passes a device pointer's native value plus its byte offset to the driver.
   */
  DevicePointer(long address) {
    super(new CUdeviceptr(), address);
  }

  long address() {
    return getNativePointer() + getByteOffset();
  }
}
