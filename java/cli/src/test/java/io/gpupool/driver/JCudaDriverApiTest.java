package io.gpupool.driver;

import static jcuda.driver.JCudaDriver.cuCtxGetCurrent;
import static jcuda.driver.JCudaDriver.cuCtxSetCurrent;
import static jcuda.driver.JCudaDriver.cuCtxSynchronize;
import static jcuda.driver.JCudaDriver.cuDeviceGet;
import static jcuda.driver.JCudaDriver.cuDeviceGetAttribute;
import static jcuda.driver.JCudaDriver.cuDeviceGetCount;
import static jcuda.driver.JCudaDriver.cuDeviceGetName;
import static jcuda.driver.JCudaDriver.cuDevicePrimaryCtxRelease;
import static jcuda.driver.JCudaDriver.cuDevicePrimaryCtxRetain;
import static jcuda.driver.JCudaDriver.cuDeviceTotalMem;
import static jcuda.driver.JCudaDriver.cuInit;
import static jcuda.driver.JCudaDriver.cuLaunchKernel;
import static jcuda.driver.JCudaDriver.cuMemAlloc;
import static jcuda.driver.JCudaDriver.cuMemFree;
import static jcuda.driver.JCudaDriver.cuMemcpyDtoH;
import static jcuda.driver.JCudaDriver.cuMemcpyHtoD;
import static jcuda.driver.JCudaDriver.cuModuleGetFunction;
import static jcuda.driver.JCudaDriver.cuModuleLoadData;
import static jcuda.driver.JCudaDriver.cuModuleUnload;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.Arrays;
import jcuda.Pointer;
import jcuda.Sizeof;
import jcuda.driver.CUcontext;
import jcuda.driver.CUdevice;
import jcuda.driver.CUdevice_attribute;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUfunction;
import jcuda.driver.CUmodule;
import jcuda.driver.CUresult;
import jcuda.driver.JCudaDriver;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The driver API as JCuda calls it, against the driver on LD_LIBRARY_PATH: the simulated
 * one by default (GPUPOOL_SIM_DEVICES=2, GPUPOOL_SIM_MEMORY=4GiB, GPUPOOL_SIM_NAME set in
 * java/cli/pom.xml), a real one with -Preal-driver, which excludes the tests tagged
 * sim_only. Raw CUresult values are asserted, so the test sees exactly what the driver
 * returns.
 */
class JCudaDriverApiTest {
  private static CUdevice device;
  private static CUcontext context;

  @BeforeAll
  static void initialiseAndMakePrimaryContextCurrent() {
    SimulatedDriver.requireBuilt();
    JCudaDriver.setExceptionsEnabled(false);
    assertEquals(CUresult.CUDA_SUCCESS, cuInit(0));
    device = new CUdevice();
    assertEquals(CUresult.CUDA_SUCCESS, cuDeviceGet(device, 0));
    context = new CUcontext();
    assertEquals(CUresult.CUDA_SUCCESS, cuDevicePrimaryCtxRetain(context, device));
    assertEquals(CUresult.CUDA_SUCCESS, cuCtxSetCurrent(context));
  }

  @AfterAll
  static void releasePrimaryContext() {
    if (context != null) {
      assertEquals(CUresult.CUDA_SUCCESS, cuCtxSetCurrent(new CUcontext()));
      assertEquals(CUresult.CUDA_SUCCESS, cuDevicePrimaryCtxRelease(device));
    }
  }

  @Test
  void devicesAreEnumerated() {
    int count = deviceCount();
    assertTrue(count >= 1, "no device");

    for (int ordinal = 0; ordinal < count; ordinal++) {
      CUdevice d = new CUdevice();
      assertEquals(CUresult.CUDA_SUCCESS, cuDeviceGet(d, ordinal));

      byte[] name = new byte[256];
      assertEquals(CUresult.CUDA_SUCCESS, cuDeviceGetName(name, name.length, d));
      assertTrue(!cString(name).isEmpty(), "empty device name");

      long[] total = new long[1];
      assertEquals(CUresult.CUDA_SUCCESS, cuDeviceTotalMem(total, d));
      assertTrue(total[0] > 0);

      assertTrue(attribute(d, CUdevice_attribute.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR) > 0);
      assertTrue(attribute(d, CUdevice_attribute.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR) >= 0);
      assertTrue(attribute(d, CUdevice_attribute.CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT) > 0);
      assertTrue(attribute(d, CUdevice_attribute.CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK) >= 256);
    }

    CUdevice beyond = new CUdevice();
    assertEquals(CUresult.CUDA_ERROR_INVALID_DEVICE, cuDeviceGet(beyond, count));
  }

  /** What java/cli/pom.xml configures the simulated driver with. */
  @Test
  @Tag("sim_only")
  void devicesComeFromTheSimulatorsEnvironment() {
    assertEquals(2, deviceCount());
    for (int ordinal = 0; ordinal < 2; ordinal++) {
      CUdevice d = new CUdevice();
      assertEquals(CUresult.CUDA_SUCCESS, cuDeviceGet(d, ordinal));
      byte[] name = new byte[256];
      assertEquals(CUresult.CUDA_SUCCESS, cuDeviceGetName(name, name.length, d));
      assertEquals("gpupool test GPU", cString(name));
      long[] total = new long[1];
      assertEquals(CUresult.CUDA_SUCCESS, cuDeviceTotalMem(total, d));
      assertEquals(4L << 30, total[0]);
    }
  }

  @Test
  void primaryContextIsCurrent() {
    CUcontext current = new CUcontext();
    assertEquals(CUresult.CUDA_SUCCESS, cuCtxGetCurrent(current));
    assertEquals(context, current);
  }

  @Test
  void memoryRoundTrip() {
    int n = 1000;
    float[] host = new float[n];
    for (int i = 0; i < n; i++) {
      host[i] = i * 1.5f - 7;
    }
    CUdeviceptr pointer = new CUdeviceptr();
    assertEquals(CUresult.CUDA_SUCCESS, cuMemAlloc(pointer, (long) n * Sizeof.FLOAT));
    assertEquals(CUresult.CUDA_SUCCESS, cuMemcpyHtoD(pointer, Pointer.to(host), (long) n * Sizeof.FLOAT));
    float[] back = new float[n];
    assertEquals(CUresult.CUDA_SUCCESS, cuMemcpyDtoH(Pointer.to(back), pointer, (long) n * Sizeof.FLOAT));
    assertArrayEquals(host, back);
    assertEquals(CUresult.CUDA_SUCCESS, cuMemFree(pointer));
  }

  @Test
  void freeingTwiceIsAnInvalidValue() {
    CUdeviceptr pointer = new CUdeviceptr();
    assertEquals(CUresult.CUDA_SUCCESS, cuMemAlloc(pointer, 4096));
    assertEquals(CUresult.CUDA_SUCCESS, cuMemFree(pointer));
    assertEquals(CUresult.CUDA_ERROR_INVALID_VALUE, cuMemFree(pointer));
  }

  @Test
  void saxpyKernelRuns() throws Exception {
    CUmodule module = new CUmodule();
    byte[] ptx = nulTerminated(Files.readAllBytes(SimulatedDriver.ptx("saxpy")));
    assertEquals(CUresult.CUDA_SUCCESS, cuModuleLoadData(module, ptx));
    CUfunction saxpy = new CUfunction();
    assertEquals(CUresult.CUDA_SUCCESS, cuModuleGetFunction(saxpy, module, "saxpy"));

    int n = 100_003; // not a multiple of the block size: the kernel must bound-check
    float a = 3.0f;
    float[] x = new float[n];
    float[] y = new float[n];
    for (int i = 0; i < n; i++) {
      x[i] = i % 100;
      y[i] = i % 13;
    }
    CUdeviceptr dx = new CUdeviceptr();
    CUdeviceptr dy = new CUdeviceptr();
    long bytes = (long) n * Sizeof.FLOAT;
    assertEquals(CUresult.CUDA_SUCCESS, cuMemAlloc(dx, bytes));
    assertEquals(CUresult.CUDA_SUCCESS, cuMemAlloc(dy, bytes));
    assertEquals(CUresult.CUDA_SUCCESS, cuMemcpyHtoD(dx, Pointer.to(x), bytes));
    assertEquals(CUresult.CUDA_SUCCESS, cuMemcpyHtoD(dy, Pointer.to(y), bytes));

    Pointer parameters =
        Pointer.to(
            Pointer.to(new int[] {n}),
            Pointer.to(new float[] {a}),
            Pointer.to(dx),
            Pointer.to(dy));
    int block = 256;
    int grid = (n + block - 1) / block;
    assertEquals(
        CUresult.CUDA_SUCCESS,
        cuLaunchKernel(saxpy, grid, 1, 1, block, 1, 1, 0, null, parameters, null));
    assertEquals(CUresult.CUDA_SUCCESS, cuCtxSynchronize());

    float[] result = new float[n];
    assertEquals(CUresult.CUDA_SUCCESS, cuMemcpyDtoH(Pointer.to(result), dy, bytes));
    for (int i = 0; i < n; i++) {
      assertEquals(a * x[i] + y[i], result[i], "element " + i);
    }

    assertEquals(CUresult.CUDA_SUCCESS, cuMemFree(dx));
    assertEquals(CUresult.CUDA_SUCCESS, cuMemFree(dy));
    assertEquals(CUresult.CUDA_SUCCESS, cuModuleUnload(module));
  }

  @Test
  void unknownFunctionIsNotFound() throws Exception {
    CUmodule module = new CUmodule();
    byte[] ptx = nulTerminated(Files.readAllBytes(SimulatedDriver.ptx("saxpy")));
    assertEquals(CUresult.CUDA_SUCCESS, cuModuleLoadData(module, ptx));
    CUfunction function = new CUfunction();
    assertEquals(
        CUresult.CUDA_ERROR_NOT_FOUND, cuModuleGetFunction(function, module, "no_such_kernel"));
    assertEquals(CUresult.CUDA_SUCCESS, cuModuleUnload(module));
  }

  @Test
  void wrappersNameTheCallAndTheError() {
    Cuda.init();
    try (Module module = Module.load(SimulatedDriver.ptx("saxpy"))) {
      CudaException e = assertThrows(CudaException.class, () -> module.kernel("no_such_kernel"));
      assertEquals(CUresult.CUDA_ERROR_NOT_FOUND, e.result());
      assertEquals("cuModuleGetFunction(no_such_kernel)", e.call());
      assertEquals("CUDA_ERROR_NOT_FOUND", e.errorName());
      assertTrue(e.getMessage().contains("cuModuleGetFunction(no_such_kernel)"), e.getMessage());
      assertTrue(e.getMessage().contains("CUDA_ERROR_NOT_FOUND"), e.getMessage());
    }
    DeviceBuffer buffer = new DeviceBuffer(1024);
    assertNotEquals(0, buffer.bytes());
    buffer.close();
  }

  @Test
  void propertiesThroughTheWrapper() {
    int count = Cuda.deviceCount();
    DeviceProperties zero = Cuda.properties(0);
    assertEquals(0, zero.ordinal());
    assertEquals(16, zero.uuid().length);
    assertTrue(zero.uuidString().matches("GPU-[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}"),
        zero.uuidString());
    if (count > 1) {
      assertTrue(!Arrays.equals(zero.uuid(), Cuda.properties(1).uuid()),
          "devices must have distinct UUIDs");
    }
    CudaException e = assertThrows(CudaException.class, () -> Cuda.properties(count));
    assertEquals("cuDeviceGet", e.call());
    assertEquals(CUresult.CUDA_ERROR_INVALID_DEVICE, e.result());
  }

  private static int deviceCount() {
    int[] count = new int[1];
    assertEquals(CUresult.CUDA_SUCCESS, cuDeviceGetCount(count));
    return count[0];
  }

  private static int attribute(CUdevice d, int attribute) {
    int[] value = new int[1];
    assertEquals(
        CUresult.CUDA_SUCCESS,
        cuDeviceGetAttribute(value, attribute, d),
        CUdevice_attribute.stringFor(attribute));
    return value[0];
  }

  private static String cString(byte[] bytes) {
    int length = 0;
    while (length < bytes.length && bytes[length] != 0) {
      length++;
    }
    return new String(bytes, 0, length, StandardCharsets.UTF_8);
  }

  private static byte[] nulTerminated(byte[] bytes) {
    return Arrays.copyOf(bytes, bytes.length + 1);
  }
}
