package io.gpupool.cli;

import static jcuda.driver.JCudaDriver.cuCtxSetCurrent;
import static jcuda.driver.JCudaDriver.cuCtxSynchronize;
import static jcuda.driver.JCudaDriver.cuDeviceGet;
import static jcuda.driver.JCudaDriver.cuDevicePrimaryCtxRelease;
import static jcuda.driver.JCudaDriver.cuDevicePrimaryCtxRetain;
import static jcuda.driver.JCudaDriver.cuInit;
import static jcuda.driver.JCudaDriver.cuLaunchKernel;
import static jcuda.driver.JCudaDriver.cuMemAlloc;
import static jcuda.driver.JCudaDriver.cuMemFree;
import static jcuda.driver.JCudaDriver.cuMemGetInfo;
import static jcuda.driver.JCudaDriver.cuMemcpyDtoH;
import static jcuda.driver.JCudaDriver.cuMemcpyHtoD;
import static jcuda.driver.JCudaDriver.cuModuleGetFunction;
import static jcuda.driver.JCudaDriver.cuModuleLoadData;
import static jcuda.driver.JCudaDriver.cuModuleUnload;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import jcuda.Pointer;
import jcuda.Sizeof;
import jcuda.driver.CUcontext;
import jcuda.driver.CUdevice;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUfunction;
import jcuda.driver.CUmodule;
import jcuda.driver.CUresult;
import jcuda.driver.JCudaDriver;

/**
 * A plain JCuda program, with no gpupool code in it, for {@link RemoteEndToEndTest}: it runs
 * saxpy from the PTX file named by its argument and prints what the driver answered, one
 * {@code key=value} per line, then {@code done}. It asserts nothing itself; a call that must
 * succeed for the rest to make sense exits 2.
 */
public final class JCudaSaxpyChild {
  private JCudaSaxpyChild() {}

  public static void main(String[] args) throws Exception {
    JCudaDriver.setExceptionsEnabled(false);
    require("cuInit", cuInit(0));
    CUdevice device = new CUdevice();
    require("cuDeviceGet", cuDeviceGet(device, 0));
    CUcontext context = new CUcontext();
    require("cuDevicePrimaryCtxRetain", cuDevicePrimaryCtxRetain(context, device));
    require("cuCtxSetCurrent", cuCtxSetCurrent(context));

    long[] free = new long[1];
    long[] total = new long[1];
    require("cuMemGetInfo", cuMemGetInfo(free, total));
    System.out.println("total=" + total[0]);

    byte[] text = Files.readAllBytes(Path.of(args[0]));
    byte[] ptx = Arrays.copyOf(text, text.length + 1); // NUL-terminated, as the driver wants
    CUmodule module = new CUmodule();
    require("cuModuleLoadData", cuModuleLoadData(module, ptx));
    CUfunction saxpy = new CUfunction();
    require("cuModuleGetFunction", cuModuleGetFunction(saxpy, module, "saxpy"));

    int n = 100_003; // not a multiple of the block size: the kernel must bound-check
    float a = 3.0f;
    float[] x = new float[n];
    float[] y = new float[n];
    for (int i = 0; i < n; i++) {
      x[i] = i % 100;
      y[i] = i % 13;
    }
    long bytes = (long) n * Sizeof.FLOAT;
    CUdeviceptr dx = new CUdeviceptr();
    CUdeviceptr dy = new CUdeviceptr();
    require("cuMemAlloc", cuMemAlloc(dx, bytes));
    require("cuMemAlloc", cuMemAlloc(dy, bytes));
    require("cuMemcpyHtoD", cuMemcpyHtoD(dx, Pointer.to(x), bytes));
    require("cuMemcpyHtoD", cuMemcpyHtoD(dy, Pointer.to(y), bytes));
    Pointer params = Pointer.to(Pointer.to(new int[] {n}), Pointer.to(new float[] {a}), Pointer.to(dx),
        Pointer.to(dy));
    int block = 256;
    print("launch", cuLaunchKernel(saxpy, (n + block - 1) / block, 1, 1, block, 1, 1, 0, null, params, null));
    print("synchronize", cuCtxSynchronize());
    float[] result = new float[n];
    print("copyBack", cuMemcpyDtoH(Pointer.to(result), dy, bytes));
    int wrong = 0;
    for (int i = 0; i < n; i++) {
      if (result[i] != a * x[i] + y[i]) wrong++;
    }
    System.out.println("wrongElements=" + wrong);

    // More than the whole (virtual) device: the quota, not this program, says no.
    CUdeviceptr tooBig = new CUdeviceptr();
    int r = cuMemAlloc(tooBig, total[0]);
    print("allocWholeDevice", r);
    if (r == CUresult.CUDA_SUCCESS) cuMemFree(tooBig);

    cuMemFree(dx);
    cuMemFree(dy);
    cuModuleUnload(module);
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
