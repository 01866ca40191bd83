package io.gpupool.client;

/** A CUDA stream of a {@link RemoteGpu}: work on it runs in order. {@link #close} destroys it. */
public final class Stream implements AutoCloseable {
  private final RemoteGpu gpu;
  private final long handle;
  private volatile boolean closed;

  Stream(RemoteGpu gpu, long handle) {
    this.gpu = gpu;
    this.handle = handle;
  }

  /** {@code cuStreamSynchronize}: waits for the stream's work; throws any pipelined call's error. */
  public void synchronize() {
    backend().streamSynchronize(handle);
  }

  /** {@code cuStreamQuery}: whether all work on the stream is done. */
  public boolean isComplete() {
    return backend().streamQuery(handle);
  }

  /** Work queued on this stream after this call waits for {@code event} ({@code cuStreamWaitEvent}). */
  public void waitFor(Event event) {
    backend().streamWaitEvent(handle, event.handle(gpu));
  }

  public boolean isDefault() {
    return handle == 0;
  }

  /** Destroys the stream (pipelined); its queued work still runs. The default stream is never destroyed. */
  @Override
  public void close() {
    if (closed || handle == 0) {
      return;
    }
    closed = true;
    if (!gpu.isClosed()) {
      gpu.backend().streamDestroy(handle);
    }
  }

  @Override
  public String toString() {
    return handle == 0 ? "Stream[default]" : "Stream[" + handle + (closed ? ", destroyed]" : "]");
  }

  /** The handle of {@code stream} for calls on {@code gpu}; null is the default stream. */
  static long handle(RemoteGpu gpu, Stream stream) {
    if (stream == null) {
      return 0;
    }
    if (stream.gpu != gpu) {
      throw new IllegalArgumentException(stream + " belongs to another RemoteGpu");
    }
    stream.backend();
    return stream.handle;
  }

  private GpuBackend backend() {
    if (closed) {
      throw new IllegalStateException(this + " was closed");
    }
    return gpu.backend();
  }
}
