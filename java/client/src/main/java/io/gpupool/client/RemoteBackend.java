package io.gpupool.client;

import com.google.protobuf.ByteString;
import com.google.protobuf.UnsafeByteOperations;
import io.gpupool.proto.v1.*;
import java.io.Closeable;
import java.io.DataInputStream;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Predicate;

/**
 * A GPU on a worker, through remote.proto: each operation becomes one Call (copies: one
 * per MAX_CHUNK_BYTES), sent on a {@link RemoteSession}.
 */
final class RemoteBackend implements GpuBackend {
  private static final int CUDA_ERROR_NOT_READY = 600;
  private static final int CONNECT_TIMEOUT_MILLIS = 10_000;

  private final RemoteSession session;
  private final GpuDevice device;

  private RemoteBackend(RemoteSession session, GpuDevice device) {
    this.session = session;
    this.device = device;
  }

  /**
   * Connects to a worker and attaches with its one-time secret (after the agent's Redirect,
   * or directly in tests). {@code companion}: closed with the session (the agent
   * connection), or null.
   */
  static RemoteBackend attach(String host, int port, byte[] secret, Closeable companion) {
    return attach(host, port, secret, companion, null);
  }

  /**
   * As {@link #attach(String, int, byte[], Closeable)}, over TLS when {@code tls} is not null:
   * the worker's certificate is verified against the pool's host name, not {@code host}.
   */
  static RemoteBackend attach(String host, int port, byte[] secret, Closeable companion, Tls tls) {
    Socket socket = new Socket();
    try {
      socket.setTcpNoDelay(true);
      socket.connect(new InetSocketAddress(host, port), CONNECT_TIMEOUT_MILLIS);
      if (tls != null) {
        socket = tls.handshake(socket, "the worker at " + host + ":" + port + " (as '" + tls.verifyHost() + "')");
      }
      Frames.write(socket.getOutputStream(), ClientMessage.newBuilder()
          .setAttach(Attach.newBuilder().setSecret(ByteString.copyFrom(secret))).build());
      DataInputStream in = Frames.input(socket.getInputStream());
      ServerMessage first = Frames.read(in);
      String where = "the worker at " + host + ":" + port;
      if (first == null) {
        throw new PoolUnavailableException(where + " closed the connection before Welcome", null);
      }
      switch (first.getMessageCase()) {
        case WELCOME:
          return new RemoteBackend(new RemoteSession(socket, in, companion), device(first.getWelcome()));
        case REFUSED:
          throw new SessionRefusedException(reason(first.getRefused().getReason()), where,
              first.getRefused().getMessage());
        default:
          throw new ProtocolException(where + " answered Attach with " + first.getMessageCase());
      }
    } catch (IOException e) {
      closeQuietly(socket);
      throw new PoolUnavailableException("cannot attach to the worker at " + host + ":" + port + ": " + e, e);
    } catch (RuntimeException e) {
      closeQuietly(socket);
      throw e;
    }
  }

  static SessionRefusedException.Reason reason(Refused.Reason reason) {
    switch (reason) {
      case BAD_TOKEN: return SessionRefusedException.Reason.BAD_TOKEN;
      case BAD_REQUEST: return SessionRefusedException.Reason.BAD_REQUEST;
      case VERSION: return SessionRefusedException.Reason.VERSION;
      case NO_CAPACITY: return SessionRefusedException.Reason.NO_CAPACITY;
      case NEVER_FITS: return SessionRefusedException.Reason.NEVER_FITS;
      case UNAVAILABLE: return SessionRefusedException.Reason.UNAVAILABLE;
      default: return SessionRefusedException.Reason.UNSPECIFIED;
    }
  }

  private static GpuDevice device(Welcome welcome) {
    DeviceInfo d = welcome.getDevice();
    return new GpuDevice(d.getName(), d.getUuid().toByteArray(), d.getTotalMemoryBytes(),
        d.getComputeCapabilityMajor(), d.getComputeCapabilityMinor(), d.getMultiprocessorCount(),
        welcome.getAttributesList().stream().mapToInt(Integer::intValue).toArray(),
        welcome.getDriverVersion());
  }

  @Override public GpuDevice device() { return device; }

  @Override
  public MemoryInfo memGetInfo() {
    Reply r = sync(Call.newBuilder().setMemGetInfo(MemGetInfo.getDefaultInstance()), "cuMemGetInfo");
    return new MemoryInfo(r.getMemInfo().getFree(), r.getMemInfo().getTotal());
  }

  @Override
  public long memAlloc(long bytes) {
    return sync(Call.newBuilder().setMemAlloc(MemAlloc.newBuilder().setBytes(bytes)),
        "cuMemAlloc(" + bytes + " bytes)").getHandle();
  }

  @Override
  public void memFree(long dptr) {
    session.release(Call.newBuilder().setMemFree(MemFree.newBuilder().setDptr(dptr)),
        "cuMemFree(0x" + Long.toHexString(dptr) + ")");
  }

  @Override
  public void copyHtoD(long dptr, HostMemory src) {
    sendChunks(dptr, src, 0, false, "cuMemcpyHtoD(" + src.bytes() + " bytes)");
    sync(Call.newBuilder().setBarrier(Barrier.getDefaultInstance()), "cuMemcpyHtoD(" + src.bytes() + " bytes)");
  }

  @Override
  public CompletableFuture<Void> copyHtoDAsync(long dptr, HostMemory src, long stream) {
    String description = "cuMemcpyHtoDAsync(" + src.bytes() + " bytes)";
    sendChunks(dptr, src, stream, true, description);
    // The Barrier's reply says the chunks were taken: src may be reused, and the copy is on its stream.
    return session.callAsync(Call.newBuilder().setBarrier(Barrier.getDefaultInstance()), description, r -> true, null);
  }

  private void sendChunks(long dptr, HostMemory src, long stream, boolean async, String description) {
    for (long offset = 0; offset < src.bytes(); offset += Frames.MAX_CHUNK_BYTES) {
      int length = (int) Math.min(Frames.MAX_CHUNK_BYTES, src.bytes() - offset);
      session.pipeline(Call.newBuilder().setMemcpyHtod(MemcpyHtoD.newBuilder().setDptr(dptr)
          .setOffset(offset).setData(src.chunk(offset, length)).setStream(stream).setAsync(async)),
          description);
    }
  }

  @Override
  public void copyDtoH(HostMemory dst, long dptr) {
    String description = "cuMemcpyDtoH(" + dst.bytes() + " bytes)";
    session.callAndWait(copyDtoHCall(dst, dptr, 0, false), description, chunkInto(dst, description), dst.array());
  }

  @Override
  public CompletableFuture<Void> copyDtoHAsync(HostMemory dst, long dptr, long stream) {
    String description = "cuMemcpyDtoHAsync(" + dst.bytes() + " bytes)";
    return session.callAsync(copyDtoHCall(dst, dptr, stream, true), description, chunkInto(dst, description),
        dst.array());
  }

  private static Call.Builder copyDtoHCall(HostMemory dst, long dptr, long stream, boolean async) {
    return Call.newBuilder().setMemcpyDtoh(MemcpyDtoH.newBuilder().setDptr(dptr)
        .setBytes(dst.bytes()).setStream(stream).setAsync(async));
  }

  // Each chunk goes straight to its place in dst: no buffer of the whole copy. Into a byte[],
  // the session reads chunks that come in order from the socket to their place (their replies
  // then have empty data).
  private static Predicate<Reply> chunkInto(HostMemory dst, String description) {
    return reply -> {
      ByteString data = reply.getData();
      if (reply.getOffset() < 0 || reply.getOffset() + data.size() > dst.bytes()) {
        throw new ProtocolException("the worker sent " + data.size() + " bytes at offset "
            + reply.getOffset() + " for " + description);
      }
      dst.put(reply.getOffset(), data);
      return reply.getLast();
    };
  }

  @Override
  public void copyDtoD(long dst, long src, long bytes, long stream, boolean async) {
    session.pipeline(Call.newBuilder().setMemcpyDtod(MemcpyDtoD.newBuilder().setDst(dst).setSrc(src)
        .setBytes(bytes).setStream(stream).setAsync(async)),
        (async ? "cuMemcpyDtoDAsync(" : "cuMemcpyDtoD(") + bytes + " bytes)");
  }

  @Override
  public void memset(long dptr, int value, int elementSize, long count, long stream, boolean async) {
    session.pipeline(Call.newBuilder().setMemset(Memset.newBuilder().setDptr(dptr).setValue(value)
        .setElementSize(elementSize).setCount(count).setStream(stream).setAsync(async)),
        "cuMemsetD" + 8 * elementSize + (async ? "Async(" : "(") + count + " elements)");
  }

  @Override
  public long moduleLoad(byte[] image) {
    return sync(Call.newBuilder().setModuleLoadData(ModuleLoadData.newBuilder()
        .setImage(UnsafeByteOperations.unsafeWrap(image))), "cuModuleLoadData").getHandle();
  }

  @Override
  public void moduleUnload(long module) {
    session.release(Call.newBuilder().setModuleUnload(ModuleUnload.newBuilder().setModule(module)), "cuModuleUnload");
  }

  @Override
  public Function moduleGetFunction(long module, String name) {
    FunctionInfo info = sync(Call.newBuilder().setModuleGetFunction(ModuleGetFunction.newBuilder()
        .setModule(module).setName(name)), "cuModuleGetFunction(" + name + ")").getFunction();
    int[] offsets = info.getParamsList().stream().mapToInt(ParamInfo::getOffset).toArray();
    int[] sizes = info.getParamsList().stream().mapToInt(ParamInfo::getSize).toArray();
    return new Function(info.getHandle(), name, offsets, sizes);
  }

  @Override
  public void launch(Function f, LaunchConfig c, long stream, byte[][] args) {
    session.pipeline(Call.newBuilder().setLaunchKernel(LaunchKernel.newBuilder().setFunction(f.handle())
        .setGridX(c.gridDim(0)).setGridY(c.gridDim(1)).setGridZ(c.gridDim(2))
        .setBlockX(c.blockDim(0)).setBlockY(c.blockDim(1)).setBlockZ(c.blockDim(2))
        .setSharedBytes(c.sharedBytes()).setStream(stream)
        .setParams(UnsafeByteOperations.unsafeWrap(LaunchParams.pack(f, args)))),
        "cuLaunchKernel(" + f.name() + ")");
  }

  @Override
  public long streamCreate() {
    return sync(Call.newBuilder().setStreamCreate(StreamCreate.getDefaultInstance()), "cuStreamCreate").getHandle();
  }

  @Override
  public void streamDestroy(long stream) {
    session.release(Call.newBuilder().setStreamDestroy(StreamDestroy.newBuilder().setStream(stream)), "cuStreamDestroy");
  }

  @Override
  public void streamSynchronize(long stream) {
    sync(Call.newBuilder().setStreamSynchronize(StreamSynchronize.newBuilder().setStream(stream)), "cuStreamSynchronize");
  }

  @Override
  public boolean streamQuery(long stream) {
    return query(Call.newBuilder().setStreamQuery(StreamQuery.newBuilder().setStream(stream)), "cuStreamQuery");
  }

  @Override
  public void streamWaitEvent(long stream, long event) {
    session.pipeline(Call.newBuilder().setStreamWaitEvent(StreamWaitEvent.newBuilder().setStream(stream)
        .setEvent(event)), "cuStreamWaitEvent");
  }

  @Override
  public long eventCreate() {
    return sync(Call.newBuilder().setEventCreate(EventCreate.getDefaultInstance()), "cuEventCreate").getHandle();
  }

  @Override
  public void eventDestroy(long event) {
    session.release(Call.newBuilder().setEventDestroy(EventDestroy.newBuilder().setEvent(event)), "cuEventDestroy");
  }

  @Override
  public void eventRecord(long event, long stream) {
    session.pipeline(Call.newBuilder().setEventRecord(EventRecord.newBuilder().setEvent(event)
        .setStream(stream)), "cuEventRecord");
  }

  @Override
  public void eventSynchronize(long event) {
    sync(Call.newBuilder().setEventSynchronize(EventSynchronize.newBuilder().setEvent(event)), "cuEventSynchronize");
  }

  @Override
  public boolean eventQuery(long event) {
    return query(Call.newBuilder().setEventQuery(EventQuery.newBuilder().setEvent(event)), "cuEventQuery");
  }

  @Override
  public float eventElapsedTime(long start, long end) {
    return sync(Call.newBuilder().setEventElapsedTime(EventElapsedTime.newBuilder().setStart(start)
        .setEnd(end)), "cuEventElapsedTime").getMilliseconds();
  }

  @Override
  public void ctxSynchronize() {
    sync(Call.newBuilder().setCtxSynchronize(CtxSynchronize.getDefaultInstance()), "cuCtxSynchronize");
  }

  @Override
  public void close() {
    session.close();
  }

  /** A synchronous call with one Reply. */
  private Reply sync(Call.Builder call, String description) {
    AtomicReference<Reply> reply = new AtomicReference<>();
    session.callAndWait(call, description, r -> {
      reply.set(r);
      return true;
    }, null);
    return reply.get();
  }

  private boolean query(Call.Builder call, String description) {
    try {
      sync(call, description);
      return true;
    } catch (GpuException e) {
      if (e.result() == CUDA_ERROR_NOT_READY && e.reportedBy() == null) {
        return false;
      }
      throw e;
    }
  }

  private static void closeQuietly(Socket socket) {
    try {
      socket.close();
    } catch (IOException e) {
      // nothing to do
    }
  }
}
