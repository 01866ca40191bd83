package io.gpupool.client;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * One GPU of the pool, held until {@link #close}: on this machine ({@code local:}) or on a
 * pool's node, through a worker that serves only this session. Closing it frees every
 * buffer, module, stream and event it made.
 *
 * <p>Calls run in the order they are made. Launches, asynchronous copies, memsets, event
 * records and frees are pipelined: they return at once, and an error of theirs is thrown
 * by the next synchronizing call at the latest ({@link #synchronize}, a synchronous copy,
 * an allocation, a query...), naming the call that failed.
 */
public final class RemoteGpu implements AutoCloseable {
  private final GpuBackend backend;
  private final String description;
  private final Stream defaultStream;
  private volatile boolean closed;

  RemoteGpu(GpuBackend backend, String description) {
    this.backend = backend;
    this.description = description;
    this.defaultStream = new Stream(this, 0);
  }

  /** The device's name, memory, compute capability and attributes. */
  public GpuDevice device() {
    return backend().device();
  }

  /** {@code cuMemGetInfo}; remotely, the session's quota is the total. */
  public MemoryInfo memoryInfo() {
    return backend().memGetInfo();
  }

  /** {@code cuMemAlloc}. */
  public DeviceBuffer allocate(long bytes) {
    if (bytes <= 0) {
      throw new IllegalArgumentException("allocation of " + bytes + " bytes");
    }
    return new DeviceBuffer(this, backend().memAlloc(bytes), bytes);
  }

  /** Loads PTX (NUL-terminated or not), a cubin or a fatbin. */
  public Module loadModule(byte[] image) {
    byte[] copy = image;
    if (image.length == 0 || looksLikePtx(image) && image[image.length - 1] != 0) {
      // PTX is text the driver reads up to a NUL; a file read from disk has none.
      copy = java.util.Arrays.copyOf(image, image.length + 1);
    }
    return new Module(this, backend().moduleLoad(copy));
  }

  public Module loadModule(Path file) {
    try {
      return loadModule(Files.readAllBytes(file));
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read " + file, e);
    }
  }

  /** The default (legacy NULL) stream. */
  public Stream defaultStream() {
    return defaultStream;
  }

  public Stream createStream() {
    return new Stream(this, backend().streamCreate());
  }

  /** An event that records timing ({@code CU_EVENT_DEFAULT}). */
  public Event createEvent() {
    return new Event(this, backend().eventCreate());
  }

  /** {@code cuCtxSynchronize}: waits for all work; throws any pipelined call's error. */
  public void synchronize() {
    backend().ctxSynchronize();
  }

  public boolean isClosed() {
    return closed;
  }

  /** Ends the session; everything it holds is freed. Pipelined errors not yet reported are dropped. */
  @Override
  public void close() {
    if (closed) {
      return;
    }
    closed = true;
    backend.close();
  }

  @Override
  public String toString() {
    return "RemoteGpu[" + description + (closed ? ", closed]" : "]");
  }

  GpuBackend backend() {
    if (closed) {
      throw new IllegalStateException(this + " is closed");
    }
    return backend;
  }

  private static boolean looksLikePtx(byte[] image) {
    // cubins and fatbins start with binary magic; PTX is text.
    return image[0] == '/' || image[0] == '.' || Character.isWhitespace(image[0]);
  }
}
