package io.gpupool.client;

/** A CUDA event of a {@link RemoteGpu}, for ordering streams and timing; {@link #close} destroys it. */
public final class Event implements AutoCloseable {
  private final RemoteGpu gpu;
  private final long handle;
  private volatile boolean closed;

  Event(RemoteGpu gpu, long handle) {
    this.gpu = gpu;
    this.handle = handle;
  }

  /** Records the event on {@code stream} (null: the default stream); pipelined. */
  public void record(Stream stream) {
    backend().eventRecord(handle, Stream.handle(gpu, stream));
  }

  public void record() {
    record(null);
  }

  /** {@code cuEventSynchronize}: waits until the work before the record is done. */
  public void synchronize() {
    backend().eventSynchronize(handle);
  }

  /** {@code cuEventQuery}: whether the work before the record is done. */
  public boolean isComplete() {
    return backend().eventQuery(handle);
  }

  /** Milliseconds from this event's record to {@code end}'s ({@code cuEventElapsedTime}). */
  public float elapsedMillis(Event end) {
    return backend().eventElapsedTime(handle, end.handle(gpu));
  }

  /** Destroys the event (pipelined). */
  @Override
  public void close() {
    if (closed) {
      return;
    }
    closed = true;
    if (!gpu.isClosed()) {
      gpu.backend().eventDestroy(handle);
    }
  }

  @Override
  public String toString() {
    return "Event[" + handle + (closed ? ", destroyed]" : "]");
  }

  long handle(RemoteGpu owner) {
    if (owner != gpu) {
      throw new IllegalArgumentException(this + " belongs to another RemoteGpu");
    }
    backend();
    return handle;
  }

  private GpuBackend backend() {
    if (closed) {
      throw new IllegalStateException(this + " was closed");
    }
    return gpu.backend();
  }
}
