package io.gpupool.remote;

import static jcuda.driver.JCudaDriver.cuMemAddressFree;
import static jcuda.driver.JCudaDriver.cuMemAddressReserve;
import static jcuda.driver.JCudaDriver.cuMemUnmap;

import io.gpupool.proto.v1.AllocationFlags;
import io.gpupool.proto.v1.MemAddressReserve;
import io.gpupool.proto.v1.MemCreate;
import io.gpupool.proto.v1.MemMap;
import io.gpupool.proto.v1.MemSetAccess;
import io.gpupool.proto.v1.Reply;
import jcuda.driver.CUdeviceptr;

/**
 * The virtual memory management calls (remote.proto, MemCreate and after). The session names
 * only its own allocation handles (table ids) and addresses inside its own reservations; the
 * properties are the worker's (pinned memory on its device), with the client's allocation flags.
 * Size, alignment and flag errors are the driver's. Memory made by cuMemCreate is counted against
 * the session's quota by the shim the worker runs under, and by the allocation size limit here.
 * Calls that take allocation properties, handles or access descriptors go through {@link
 * DriverFunctions}; reservations (plain pointers) through JCuda, whose pointer objects the
 * session's regions are made of.
 */
final class VmmCalls {
  /** A cuMemCreate handle: the driver's value. */
  record Allocation(long handle, long bytes) {}

  private final HandleTable table;
  private final WorkerLimits limits;

  VmmCalls(HandleTable table, WorkerLimits limits) {
    this.table = table;
    this.limits = limits;
  }

  private static Reply value(long seq, long value) {
    return Reply.newBuilder().setSeq(seq).setNumber(value).build();
  }

  private static boolean loaded() {
    return DriverFunctions.loaded();
  }

  Reply granularity(long seq, int option, AllocationFlags f) {
    if (!loaded()) return ReplySink.result(seq, CudaResult.NOT_SUPPORTED);
    long[] g = new long[1];
    int r = DriverFunctions.vmmGranularity(g, Session.DEVICE, f.getCompressionType(), f.getGpuDirectRdmaCapable() ? 1 : 0,
        f.getUsage(), option);
    return r != CudaResult.SUCCESS ? ReplySink.result(seq, r) : value(seq, g[0]);
  }

  Reply create(long seq, MemCreate c) {
    long bytes = c.getBytes();
    if (bytes < 0 || bytes > limits.maxAllocationBytes() || table.full()) {
      return ReplySink.result(seq, CudaResult.OUT_OF_MEMORY);
    }
    if (!loaded()) return ReplySink.result(seq, CudaResult.NOT_SUPPORTED);
    AllocationFlags f = c.getAllocFlags();
    long[] h = new long[1];
    int r = DriverFunctions.vmmCreate(h, bytes, Session.DEVICE, f.getCompressionType(), f.getGpuDirectRdmaCapable() ? 1 : 0,
        f.getUsage(), c.getFlags());
    if (r != CudaResult.SUCCESS) return ReplySink.result(seq, r);
    long id = table.add(HandleTable.Kind.VMM_ALLOCATION, new Allocation(h[0], bytes), 0);
    return Reply.newBuilder().setSeq(seq).setHandle(id).build();
  }

  int release(long id) {
    Allocation a = table.get(id, HandleTable.Kind.VMM_ALLOCATION, Allocation.class);
    if (a == null) return CudaResult.INVALID_VALUE;
    int r = DriverFunctions.vmmRelease(a.handle());
    if (r == CudaResult.SUCCESS) table.remove(id);
    return r;
  }

  /** The address hint is not passed on: it is only a hint, and the driver's choice is as good. */
  Reply reserve(long seq, MemAddressReserve c) {
    if (c.getBytes() < 0 || c.getAlignment() < 0) return ReplySink.result(seq, CudaResult.INVALID_VALUE);
    if (table.full()) return ReplySink.result(seq, CudaResult.OUT_OF_MEMORY);
    DevicePointer p = new DevicePointer();
    int r = cuMemAddressReserve(p, c.getBytes(), c.getAlignment(), new CUdeviceptr(), c.getFlags());
    if (r != CudaResult.SUCCESS) return ReplySink.result(seq, r);
    table.addReservation(p, c.getBytes());
    return Reply.newBuilder().setSeq(seq).setHandle(p.address()).build();
  }

  int free(long ptr, long bytes) {
    HandleTable.Reservation res = table.reservation(ptr);
    if (res == null) return CudaResult.INVALID_VALUE;
    int r = cuMemAddressFree(res.pointer(), bytes);
    if (r == CudaResult.SUCCESS) table.removeReservation(ptr);
    return r;
  }

  int map(MemMap c) {
    Allocation a = table.get(c.getHandle(), HandleTable.Kind.VMM_ALLOCATION, Allocation.class);
    CUdeviceptr at = table.reserved(c.getPtr(), c.getBytes());
    if (a == null || at == null || c.getOffset() < 0) return CudaResult.INVALID_VALUE;
    if (table.full()) return CudaResult.OUT_OF_MEMORY;
    int r = DriverFunctions.vmmMap(c.getPtr(), c.getBytes(), c.getOffset(), a.handle(), c.getFlags());
    if (r == CudaResult.SUCCESS) table.addMapping(table.reservationOf(c.getPtr()).pointer(), c.getPtr(), c.getBytes());
    return r;
  }

  int unmap(long ptr, long bytes) {
    CUdeviceptr at = table.reserved(ptr, bytes);
    if (at == null) return CudaResult.INVALID_VALUE;
    int r = cuMemUnmap(at, bytes);
    if (r == CudaResult.SUCCESS) table.removeMappings(ptr, bytes);
    return r;
  }

  int setAccess(MemSetAccess c) {
    if (table.reserved(c.getPtr(), c.getBytes()) == null) return CudaResult.INVALID_VALUE;
    return DriverFunctions.vmmSetAccess(c.getPtr(), c.getBytes(), Session.DEVICE, c.getFlags());
  }

  Reply getAccess(long seq, long ptr) {
    if (table.reserved(ptr, 1) == null) return ReplySink.result(seq, CudaResult.INVALID_VALUE);
    long[] flags = new long[1];
    int r = DriverFunctions.vmmGetAccess(flags, Session.DEVICE, ptr);
    return r != CudaResult.SUCCESS ? ReplySink.result(seq, r) : value(seq, flags[0]);
  }

  /** Frees what the session still holds: mappings, then reservations, then allocations. */
  void freeAll() {
    for (HandleTable.Region m : table.mappings()) {
      CUdeviceptr at = table.reserved(m.base(), m.bytes());
      if (at != null) cuMemUnmap(at, m.bytes());
    }
    for (HandleTable.Reservation r : table.reservations()) cuMemAddressFree(r.pointer(), r.bytes());
    for (long id : table.ids(HandleTable.Kind.VMM_ALLOCATION)) {
      DriverFunctions.vmmRelease(table.get(id, HandleTable.Kind.VMM_ALLOCATION, Allocation.class).handle());
    }
  }
}
