package io.gpupool.remote;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import jcuda.driver.CUdeviceptr;

/**
 * Everything one session got from the worker, and the only way a client value becomes a driver
 * object. A value that is not in the table is refused before the driver sees it, so a session
 * can name only its own memory, modules, functions, streams and events.
 *
 * <p>Device memory is kept as regions (allocations, module globals the client asked for, and
 * ranges mapped into the session's reservations) by base address: copies and memsets may
 * address any byte range that lies inside one region, or runs through adjacent mappings.
 * Kernel parameters are opaque bytes and are not checked: a kernel can dereference any address
 * it is given, which no remoting layer can prevent; what keeps sessions apart there is that
 * every session has its own worker process and context (and the shim's quota), so another
 * session's memory is not mapped in this one's context.
 *
 * <p>Objects other than memory get worker-chosen numbers (not the driver's pointers), never 0, 1
 * or 2, which CUDA reserves for the NULL, legacy and per-thread streams. Used by one thread.
 */
final class HandleTable {
  enum Kind { MODULE, FUNCTION, STREAM, EVENT, VMM_ALLOCATION }

  /** {@link Region#module} of a range mapped into a reservation (cuMemMap): memory, not an allocation. */
  static final long MAPPING = -1;

  /**
   * Device memory of the session; {@code module} is 0 for an allocation, {@link #MAPPING} for a
   * mapped range, else the global's module.
   */
  record Region(DevicePointer pointer, long base, long bytes, long module) {}

  /** An address range reserved with cuMemAddressReserve. */
  record Reservation(DevicePointer pointer, long base, long bytes) {}

  record Entry(Kind kind, Object object, long module) {}

  private static final long FIRST_ID = 0x10000;
  private static final long ID_STEP = 0x10;

  private final int maxHandles;
  private final TreeMap<Long, Region> regions = new TreeMap<>();
  private final TreeMap<Long, Reservation> reservations = new TreeMap<>();
  private final Map<Long, Entry> objects = new HashMap<>();
  private long nextId = FIRST_ID;

  HandleTable(int maxHandles) {
    this.maxHandles = maxHandles;
  }

  int size() {
    return regions.size() + objects.size() + reservations.size();
  }

  boolean full() {
    return size() >= maxHandles;
  }

  void addRegion(DevicePointer pointer, long bytes, long module) {
    regions.put(pointer.address(), new Region(pointer, pointer.address(), bytes, module));
  }

  /** A mapping at {@code base} inside the reservation that {@code reservation} points to. */
  void addMapping(DevicePointer reservation, long base, long bytes) {
    regions.put(base, new Region(reservation, base, bytes, MAPPING));
  }

  Region region(long base) {
    return regions.get(base);
  }

  /** The allocation starting exactly at {@code base}, or null (a global is not an allocation). */
  Region allocation(long base) {
    Region r = regions.get(base);
    return r != null && r.module() == 0 ? r : null;
  }

  void removeRegion(long base) {
    regions.remove(base);
  }

  /**
   * A driver pointer to {@code address} if [address, address + bytes) lies inside one region of
   * this session; else null. Both values are the client's uint64s (negative as Java longs means
   * at least 2^63: never inside).
   */
  CUdeviceptr resolve(long address, long bytes) {
    if (address < 0 || bytes < 0) return null;
    Map.Entry<Long, Region> e = regions.floorEntry(address);
    if (e == null) return null;
    Region r = e.getValue();
    long offset = address - r.base();
    if (offset > r.bytes() || (bytes == 0 && offset == r.bytes())) return null; // one past the end names nothing
    // A range may run on through mappings that follow each other without a gap.
    long left = bytes - (r.bytes() - offset);
    for (Region at = r; left > 0; left -= at.bytes()) {
      if (at.module() != MAPPING) return null;
      at = regions.get(at.base() + at.bytes());
      if (at == null || at.module() != MAPPING) return null;
    }
    // A mapping's pointer is its reservation's: the driver pointer is relative to that.
    long fromPointer = address - r.pointer().address();
    return fromPointer == 0 ? r.pointer() : r.pointer().withByteOffset(fromPointer);
  }

  void addReservation(DevicePointer pointer, long bytes) {
    reservations.put(pointer.address(), new Reservation(pointer, pointer.address(), bytes));
  }

  Reservation reservation(long base) {
    return reservations.get(base);
  }

  void removeReservation(long base) {
    reservations.remove(base);
  }

  /** The reservation containing {@code address}, or null. */
  Reservation reservationOf(long address) {
    Map.Entry<Long, Reservation> e = address < 0 ? null : reservations.floorEntry(address);
    return e == null || address - e.getKey() >= e.getValue().bytes() ? null : e.getValue();
  }

  /** A driver pointer to {@code address} if [address, address + bytes) lies in one reservation; else null. */
  CUdeviceptr reserved(long address, long bytes) {
    if (address < 0 || bytes < 0) return null;
    Reservation r = reservationOf(address);
    if (r == null) return null;
    long offset = address - r.base();
    if (offset >= r.bytes() || bytes > r.bytes() - offset) return null;
    return offset == 0 ? r.pointer() : r.pointer().withByteOffset(offset);
  }

  /** Forgets the mappings inside [address, address + bytes) (they were unmapped). */
  void removeMappings(long address, long bytes) {
    regions.subMap(address, true, address + bytes, false).values().removeIf(r -> r.module() == MAPPING);
  }

  List<Region> mappings() {
    List<Region> list = new ArrayList<>();
    for (Region r : regions.values()) if (r.module() == MAPPING) list.add(r);
    return list;
  }

  List<Reservation> reservations() {
    return new ArrayList<>(reservations.values());
  }

  long add(Kind kind, Object object, long module) {
    long id = nextId;
    nextId += ID_STEP;
    objects.put(id, new Entry(kind, object, module));
    return id;
  }

  /** The object of that kind under {@code id}, or null. */
  <T> T get(long id, Kind kind, Class<T> type) {
    Entry e = objects.get(id);
    return e != null && e.kind() == kind ? type.cast(e.object()) : null;
  }

  void remove(long id) {
    objects.remove(id);
  }

  /** The handles (functions) and globals that belong to {@code module}, forgotten when it is unloaded. */
  void removeModuleChildren(long module) {
    objects.values().removeIf(e -> e.module() == module);
    regions.values().removeIf(r -> r.module() == module);
  }

  /** Ids of every object of a kind, for freeing the session. */
  List<Long> ids(Kind kind) {
    List<Long> ids = new ArrayList<>();
    objects.forEach((id, e) -> {
      if (e.kind() == kind) ids.add(id);
    });
    return ids;
  }

  List<Region> allocations() {
    List<Region> list = new ArrayList<>();
    for (Region r : regions.values()) if (r.module() == 0) list.add(r);
    return list;
  }

  void clear() {
    regions.clear();
    reservations.clear();
    objects.clear();
  }
}
