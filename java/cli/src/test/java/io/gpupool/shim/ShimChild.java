package io.gpupool.shim;

import static jcuda.driver.JCudaDriver.cuCtxSetCurrent;
import static jcuda.driver.JCudaDriver.cuDeviceGet;
import static jcuda.driver.JCudaDriver.cuDevicePrimaryCtxRelease;
import static jcuda.driver.JCudaDriver.cuDevicePrimaryCtxRetain;
import static jcuda.driver.JCudaDriver.cuDeviceTotalMem;
import static jcuda.driver.JCudaDriver.cuInit;
import static jcuda.driver.JCudaDriver.cuMemAlloc;
import static jcuda.driver.JCudaDriver.cuMemFree;
import static jcuda.driver.JCudaDriver.cuMemGetInfo;

import jcuda.driver.CUcontext;
import jcuda.driver.CUdevice;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUresult;
import jcuda.driver.JCudaDriver;

/**
 * Run by {@link JCudaUnderShimTest} in a JVM started under the shim: a plain JCuda program
 * that prints what the driver API answers, one {@code key=value} per line. It asserts
 * nothing itself; a call that must succeed for the rest to make sense exits 2.
 */
public final class ShimChild {
  private static final long MIB = 1L << 20;

  private ShimChild() {}

  public static void main(String[] args) {
    JCudaDriver.setExceptionsEnabled(false);
    require("cuInit", cuInit(0));
    CUdevice device = new CUdevice();
    require("cuDeviceGet", cuDeviceGet(device, 0));
    CUcontext context = new CUcontext();
    require("cuDevicePrimaryCtxRetain", cuDevicePrimaryCtxRetain(context, device));
    require("cuCtxSetCurrent", cuCtxSetCurrent(context));

    long[] free = new long[1];
    long[] total = new long[1];
    print("cuMemGetInfo", cuMemGetInfo(free, total));
    System.out.println("total=" + total[0]);
    System.out.println("free=" + free[0]);
    long[] deviceTotal = new long[1];
    print("cuDeviceTotalMem", cuDeviceTotalMem(deviceTotal, device));
    System.out.println("deviceTotal=" + deviceTotal[0]);

    CUdeviceptr big = new CUdeviceptr();
    print("alloc768", cuMemAlloc(big, 768 * MIB));
    cuMemGetInfo(free, total);
    System.out.println("freeAfter768=" + free[0]);
    CUdeviceptr more = new CUdeviceptr();
    int r = cuMemAlloc(more, 512 * MIB);
    print("alloc512", r);
    if (r == CUresult.CUDA_SUCCESS) {
      cuMemFree(more);
    }
    print("free768", cuMemFree(big));
    r = cuMemAlloc(more, 512 * MIB);
    print("alloc512AfterFree", r);
    if (r == CUresult.CUDA_SUCCESS) {
      cuMemFree(more);
    }
    cuCtxSetCurrent(new CUcontext());
    cuDevicePrimaryCtxRelease(device);
    System.out.println("done");
  }

  private static void print(String key, int result) {
    System.out.println(key + "=" + CUresult.stringFor(result));
  }

  private static void require(String call, int result) {
    if (result != CUresult.CUDA_SUCCESS) {
      System.out.println(call + "=" + CUresult.stringFor(result));
      System.exit(2);
    }
  }
}
