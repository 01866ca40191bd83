package io.gpupool.remote;

import static jcuda.driver.JCudaDriver.cuCtxSetCurrent;
import static jcuda.driver.JCudaDriver.cuDeviceGet;
import static jcuda.driver.JCudaDriver.cuDevicePrimaryCtxRelease;
import static jcuda.driver.JCudaDriver.cuDevicePrimaryCtxRetain;
import static jcuda.driver.JCudaDriver.cuInit;
import static jcuda.driver.JCudaDriver.cuModuleGetFunction;
import static jcuda.driver.JCudaDriver.cuModuleLoadData;
import static jcuda.driver.JCudaDriver.cuModuleUnload;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gpupool.proto.v1.ParamInfo;
import io.gpupool.proto.v1.Reply;
import java.util.Arrays;
import java.util.List;
import jcuda.driver.CUcontext;
import jcuda.driver.CUdevice;
import jcuda.driver.CUfunction;
import jcuda.driver.CUmodule;
import org.junit.jupiter.api.Test;

/** cuFuncGetParamInfo through the JavaCPP binding (the simulated driver implements it). */
class DriverFunctionsTest {
  private static List<String> layout(List<ParamInfo> params) {
    return params.stream().map(p -> p.getOffset() + ":" + p.getSize()).toList();
  }

  @Test
  void readsSaxpyLayoutFromTheDriver() throws Exception {
    assertTrue(DriverParamLayout.available(), "the JNI library loads");
    assertEquals(0, cuInit(0));
    CUdevice device = new CUdevice();
    assertEquals(0, cuDeviceGet(device, 0));
    CUcontext ctx = new CUcontext();
    assertEquals(0, cuDevicePrimaryCtxRetain(ctx, device));
    try {
      assertEquals(0, cuCtxSetCurrent(ctx));
      byte[] ptx = Calls.ptx("saxpy");
      if (ptx[ptx.length - 1] != 0) ptx = Arrays.copyOf(ptx, ptx.length + 1);
      CUmodule module = new CUmodule();
      assertEquals(0, cuModuleLoadData(module, ptx));
      try {
        CUfunction f = new CUfunction();
        assertEquals(0, cuModuleGetFunction(f, module, "saxpy"));
        long raw = DriverParamLayout.rawPointer(f);
        assertNotEquals(0, raw);

        long[] offsetAndSize = new long[2];
        assertEquals(0, DriverFunctions.cuFuncGetParamInfo(raw, 3, offsetAndSize));
        assertEquals(16, offsetAndSize[0]);
        assertEquals(8, offsetAndSize[1]);
        assertEquals(CudaResult.INVALID_VALUE, DriverFunctions.cuFuncGetParamInfo(raw, 4, offsetAndSize));

        List<ParamInfo> params = DriverParamLayout.of(f);
        assertNotNull(params);
        assertEquals(List.of("0:4", "4:4", "8:8", "16:8"), layout(params));
      } finally {
        cuModuleUnload(module);
      }
    } finally {
      cuCtxSetCurrent(new CUcontext());
      cuDevicePrimaryCtxRelease(device);
    }
  }

  @Test
  void moduleGetFunctionTakesTheLayoutFromTheDriver() throws Exception {
    try (WorkerServer server = WorkerSessionTest.server();
        RawClient c = RawClient.attached(server, WorkerSessionTest.SECRET)) {
      ModuleCalls.lastLayoutSource = null;
      c.call(Calls.load(Calls.ptx("saxpy")));
      Reply loaded = c.reply();
      assertEquals(0, loaded.getResult());
      c.call(Calls.function(loaded.getHandle(), "saxpy"));
      Reply fn = c.reply();
      assertEquals(0, fn.getResult());
      assertEquals(List.of("0:4", "4:4", "8:8", "16:8"), layout(fn.getFunction().getParamsList()));
      assertEquals(ModuleCalls.LayoutSource.DRIVER, ModuleCalls.lastLayoutSource);
    }
  }
}
