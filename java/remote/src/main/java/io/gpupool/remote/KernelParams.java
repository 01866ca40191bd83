package io.gpupool.remote;

import io.gpupool.proto.v1.ParamInfo;
import java.util.Arrays;
import java.util.List;
import jcuda.Pointer;

/**
 * Turns a LaunchKernel's packed parameter buffer (each parameter's bytes at its FunctionInfo
 * offset, as the client packed them) into the {@code void** kernelParams} that cuLaunchKernel
 * takes: JCuda builds that array from one Pointer per parameter. The bytes are passed as they
 * are; device pointers among them are not checked (see {@link HandleTable}).
 */
final class KernelParams {
  private KernelParams() {}

  /** The kernelParams pointer, or null when the buffer is too short for the layout. */
  static Pointer unpack(List<ParamInfo> layout, byte[] packed) {
    Pointer[] params = new Pointer[layout.size()];
    for (int i = 0; i < params.length; i++) {
      ParamInfo p = layout.get(i);
      long end = Integer.toUnsignedLong(p.getOffset()) + Integer.toUnsignedLong(p.getSize());
      if (end > packed.length) return null;
      params[i] = Pointer.to(Arrays.copyOfRange(packed, p.getOffset(), (int) end));
    }
    return Pointer.to(params);
  }
}
