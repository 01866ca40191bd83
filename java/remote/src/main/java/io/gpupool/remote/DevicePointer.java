package io.gpupool.remote;

import jcuda.driver.CUdeviceptr;

/**
 * A CUdeviceptr that tells its address: JCuda keeps it in a protected field, and the worker
 * needs the number to hand it to the client (which puts it into kernel parameters and does
 * pointer arithmetic on it) and to check the client's pointers against the session's own.
 */
final class DevicePointer extends CUdeviceptr {
  long address() {
    return getNativePointer();
  }
}
