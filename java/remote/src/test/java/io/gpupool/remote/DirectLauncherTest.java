package io.gpupool.remote;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;

import io.gpupool.proto.v1.ParamInfo;
import java.util.List;
import org.junit.jupiter.api.Test;

/** What DirectLauncher prepares per function (its launches run in WorkerSessionTest). */
class DirectLauncherTest {
  private static ParamInfo param(int offset, int size) {
    return ParamInfo.newBuilder().setOffset(offset).setSize(size).build();
  }

  @Test
  void kernelParamsPointAtEachParameterInOneArea() {
    DirectLauncher launcher = DirectLauncher.create();
    assertNotNull(launcher, "the JNI library loads");
    DirectLauncher.Prepared saxpy = launcher.prepare(0x1234, List.of(param(0, 4), param(4, 4), param(8, 8), param(16, 8)));
    DirectLauncher.Prepared other = launcher.prepare(0x5678, List.of(param(0, 8)));
    assertEquals(0x1234, saxpy.function());
    assertEquals(24, saxpy.paramBytes());
    long area = other.kernelParams().get(0); // both point into the launcher's one area
    assertEquals(List.of(area, area + 4, area + 8, area + 16),
        List.of(saxpy.kernelParams().get(0), saxpy.kernelParams().get(1), saxpy.kernelParams().get(2),
            saxpy.kernelParams().get(3)));
  }

  @Test
  void aKernelWithoutParametersGetsNullKernelParams() {
    DirectLauncher.Prepared none = DirectLauncher.create().prepare(0x1234, List.of());
    assertEquals(0, none.kernelParamsAddress());
    assertEquals(0, none.paramBytes());
  }

  @Test
  void whatTheAreaCannotHoldIsLeftToJCuda() {
    DirectLauncher launcher = DirectLauncher.create();
    assertNull(launcher.prepare(0x1234, List.of(param(DirectLauncher.MAX_PARAM_BYTES - 4, 8))));
    assertNotNull(launcher.prepare(0x1234, List.of(param(DirectLauncher.MAX_PARAM_BYTES - 8, 8))));
    assertNull(launcher.prepare(0, List.of(param(0, 8))), "no raw CUfunction");
  }
}
