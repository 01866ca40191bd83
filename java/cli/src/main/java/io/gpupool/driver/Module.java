package io.gpupool.driver;

import static jcuda.driver.JCudaDriver.cuModuleGetFunction;
import static jcuda.driver.JCudaDriver.cuModuleLoadData;
import static jcuda.driver.JCudaDriver.cuModuleUnload;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import jcuda.driver.CUfunction;
import jcuda.driver.CUmodule;

/** A module loaded into the current context with {@code cuModuleLoadData}. */
public final class Module implements AutoCloseable {
  private final CUmodule module = new CUmodule();
  private boolean unloaded;

  /** Loads PTX (or a cubin) from memory. */
  public Module(byte[] image) {
    Cuda.check("cuModuleLoadData", cuModuleLoadData(module, nulTerminated(image)));
  }

  /** Loads a PTX file. */
  public static Module load(Path ptx) {
    try {
      return new Module(Files.readAllBytes(ptx));
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read " + ptx, e);
    }
  }

  public Kernel kernel(String name) {
    CUfunction function = new CUfunction();
    Cuda.check("cuModuleGetFunction(" + name + ")", cuModuleGetFunction(function, module, name));
    return new Kernel(name, function);
  }

  // PTX is text the driver reads up to a NUL; a file read from disk has none.
  private static byte[] nulTerminated(byte[] image) {
    if (image.length > 0 && image[image.length - 1] == 0) {
      return image;
    }
    return Arrays.copyOf(image, image.length + 1);
  }

  @Override
  public void close() {
    if (unloaded) {
      return;
    }
    unloaded = true;
    Cuda.check("cuModuleUnload", cuModuleUnload(module));
  }
}
