package io.gpupool.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.net.URI;
import org.junit.jupiter.api.Test;

/** The contract on this machine's driver (the simulated one in the build). */
class LocalGpuTest extends GpuBackendContractTest {
  @Override
  protected RemoteGpu acquire() {
    return GpuPool.connect(URI.create("local:0")).acquire(GpuRequest.memory(64L << 20));
  }

  @Test
  void aRequestLargerThanTheDeviceNeverFits() {
    long tooMuch = gpu.device().totalMemoryBytes() + 1;
    SessionRefusedException e = assertThrows(SessionRefusedException.class,
        () -> GpuPool.connect(URI.create("local:0")).acquire(GpuRequest.memory(tooMuch)));
    assertEquals(SessionRefusedException.Reason.NEVER_FITS, e.reason());
  }
}
