package io.gpupool.driver;

import static jcuda.driver.JCudaDriver.cuEventCreate;
import static jcuda.driver.JCudaDriver.cuEventDestroy;
import static jcuda.driver.JCudaDriver.cuEventElapsedTime;
import static jcuda.driver.JCudaDriver.cuEventRecord;
import static jcuda.driver.JCudaDriver.cuEventSynchronize;

import jcuda.driver.CUevent;
import jcuda.driver.CUevent_flags;
import jcuda.driver.CUstream;

/** Times device work on a stream with a pair of events ({@code cuEventElapsedTime}). */
public final class EventTimer implements AutoCloseable {
  private final CUevent start = new CUevent();
  private final CUevent stop = new CUevent();
  private final CUstream stream;

  public EventTimer(CUstream stream) {
    this.stream = stream;
    Cuda.check("cuEventCreate", cuEventCreate(start, CUevent_flags.CU_EVENT_DEFAULT));
    int result = cuEventCreate(stop, CUevent_flags.CU_EVENT_DEFAULT);
    if (result != 0) {
      cuEventDestroy(start);
      Cuda.check("cuEventCreate", result);
    }
  }

  /** Runs {@code work} (which enqueues on the stream) between two events; returns milliseconds. */
  public float time(Runnable work) {
    Cuda.check("cuEventRecord", cuEventRecord(start, stream));
    work.run();
    Cuda.check("cuEventRecord", cuEventRecord(stop, stream));
    Cuda.check("cuEventSynchronize", cuEventSynchronize(stop));
    float[] milliseconds = new float[1];
    Cuda.check("cuEventElapsedTime", cuEventElapsedTime(milliseconds, start, stop));
    return milliseconds[0];
  }

  @Override
  public void close() {
    int first = cuEventDestroy(start);
    int second = cuEventDestroy(stop);
    Cuda.check("cuEventDestroy", first != 0 ? first : second);
  }
}
