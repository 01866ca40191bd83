/* control_region.h — the layout of a job's shared control region.
 *
 * This header is the single definition of the region's layout. The shim (C++)
 * maps it; the agent (Java) binds it with JavaCPP. Nobody copies the layout by
 * hand. Plain C: fixed-width types, no bit-fields, no C++ constructs.
 *
 * Contract
 *   One region per (user, job): the POSIX shared-memory object
 *   "/gpupool-<uid>-<job>", i.e. the file /dev/shm/gpupool-<uid>-<job>, mode
 *   0600, owned by <uid>, exactly sizeof(gpupool_region) bytes. <uid> is the
 *   effective uid (the one that owns the files a process creates). <job> is the job
 *   key (GPUPOOL_JOB): 1..GPUPOOL_REGION_JOB_MAX characters of [A-Za-z0-9_.-].
 *   All processes of the job (data-loader workers, torchrun ranks) share it.
 *
 *   A reader accepts a region only if the file's owner is its own uid, its size
 *   is sizeof(gpupool_region), and magic, layout_version, header_size,
 *   region_size, max_devices, max_slots and owner_uid all equal this header's
 *   values. Anything else is refused, never repaired.
 *
 * Compatibility
 *   Fields are never moved, resized or given a new meaning. New fields are
 *   carved from a `reserved` area or appended at the end of gpupool_region, and
 *   every such change bumps GPUPOOL_REGION_LAYOUT_VERSION. Reserved bytes are
 *   zero. The static checks at the end pin every offset.
 *
 * Creation
 *   A creator builds the region under a temporary name in /dev/shm
 *   ("<final name>~<anything>": '~' is not a job key character; O_CREAT|O_EXCL,
 *   mode 0600), initialises everything — the mutex, devices,
 *   the header — writes `magic` last (after a release fence), then link()s the
 *   file to its final name; if the name exists, another creator won and the
 *   loser unlinks its temporary and opens the winner's. A reader that finds an
 *   all-zero magic waits briefly for a creator that does not use link().
 *
 * Threading
 *   `lock` is a pthread_mutex_t, PTHREAD_PROCESS_SHARED and
 *   PTHREAD_MUTEX_ROBUST, stored as opaque 8-byte-aligned words so that the
 *   layout does not depend on libc headers. It guards devices[], slots[] and
 *   header.retired. It is held only for short critical sections: never across
 *   a driver call, never while blocking on anything else.
 *   Writers update devices[].used_bytes and limit_bytes with 64-bit atomic
 *   stores under the lock; anyone may read them without the lock with a 64-bit
 *   atomic load (a snapshot, e.g. for cuMemGetInfo or metrics).
 *   A locker that gets EOWNERDEAD (the holder died) restores the invariant
 *   below from the slots of live processes, then pthread_mutex_consistent().
 *
 * Accounting
 *   Invariant outside the lock: devices[d].used_bytes == the sum of
 *   slots[i].used[d] over slots in state GPUPOOL_SLOT_LIVE.
 *   A process holds one slot, identified by pid and start_time (field 22 of
 *   /proc/<pid>/stat, clock ticks since boot), so a reused pid is not mistaken
 *   for the process that held the slot. Pids only mean something inside one
 *   pid namespace: a process whose namespace differs from a non-zero
 *   header.pid_namespace refuses the region. The slot of a dead process (no such
 *   pid, a zombie, or another start_time) is reclaimed by any process of the
 *   job: its usage leaves the device totals and the slot becomes free.
 *
 * Gates (layout version 2)
 *   gates[i].device[d] belongs to the process in slots[i] and describes its
 *   gated work on the job's physical device d (node_table.h, Time slices). Only
 *   that process writes it, with atomic stores/increments, never under the
 *   lock; the agent reads it. in_flight is half of a Dekker pair with the node
 *   table's slice grant: sequentially consistent. device_ns, wait_ns and the
 *   swap totals only grow while the slot is held; a process clears its gates
 *   when it takes a slot, so a reader that tracks (pid, start_time) sees the
 *   counters of one process. Times are CLOCK_MONOTONIC nanoseconds (the clock
 *   every process of the boot shares; Java's System.nanoTime on Linux).
 *
 * Lifetime
 *   Regions the shim creates are removed by the last process of the job to
 *   exit: under the lock it sets header.retired and unlinks the file. A process
 *   that finds `retired` set under the lock drops the region and opens (or
 *   creates) the current one. Regions with GPUPOOL_REGION_FLAG_AGENT_MANAGED
 *   belong to the agent: shims never retire them and never rewrite limits.
 */
#ifndef GPUPOOL_CONTROL_REGION_H_
#define GPUPOOL_CONTROL_REGION_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define GPUPOOL_REGION_MAGIC "GPUPOOL" /* 7 characters and the NUL: 8 bytes */
#define GPUPOOL_REGION_LAYOUT_VERSION 2u
#define GPUPOOL_REGION_MAX_DEVICES 16u
#define GPUPOOL_REGION_MAX_SLOTS 256u
#define GPUPOOL_REGION_JOB_BYTES 64u /* job key and its NUL, zero-padded */
#define GPUPOOL_REGION_JOB_MAX 48u   /* longest job key */
#define GPUPOOL_REGION_LOCK_WORDS 8u /* 64 bytes for a pthread_mutex_t */
#define GPUPOOL_REGION_UNLIMITED UINT64_MAX
#define GPUPOOL_REGION_DIR "/dev/shm"
#define GPUPOOL_REGION_NAME_PREFIX "gpupool-" /* then "<uid>-<job>" */

/* header.flags */
#define GPUPOOL_REGION_FLAG_AGENT_MANAGED 0x1u

/* slot.state */
#define GPUPOOL_SLOT_FREE 0u
#define GPUPOOL_SLOT_LIVE 1u

typedef struct gpupool_region_header {
  char magic[8];             /* GPUPOOL_REGION_MAGIC; written last by the creator */
  uint32_t layout_version;   /* GPUPOOL_REGION_LAYOUT_VERSION */
  uint32_t header_size;      /* sizeof(gpupool_region_header) */
  uint32_t region_size;      /* sizeof(gpupool_region) */
  uint32_t max_devices;      /* GPUPOOL_REGION_MAX_DEVICES */
  uint32_t max_slots;        /* GPUPOOL_REGION_MAX_SLOTS */
  uint32_t owner_uid;        /* the job's user (effective uid); the file's owner */
  uint64_t created_unix_ns;  /* CLOCK_REALTIME at creation */
  int32_t creator_pid;
  uint32_t flags;            /* GPUPOOL_REGION_FLAG_* */
  char job[GPUPOOL_REGION_JOB_BYTES]; /* the job key, NUL-terminated */
  uint32_t retired;          /* 1: unlinked, use the current region (under lock) */
  uint32_t reserved0;
  uint64_t pid_namespace;    /* inode of the creator's /proc/self/ns/pid; 0: any */
  uint8_t reserved[128];     /* zero; for later header fields */
} gpupool_region_header;

typedef struct gpupool_region_device {
  uint64_t limit_bytes; /* GPUPOOL_REGION_UNLIMITED: no limit */
  uint64_t used_bytes;  /* sum of the live slots' used[] for this device */
} gpupool_region_device;

typedef struct gpupool_region_slot {
  int32_t pid;          /* owner; meaningful only while state is LIVE */
  uint32_t state;       /* GPUPOOL_SLOT_FREE or GPUPOOL_SLOT_LIVE; LIVE written last */
  uint64_t start_time;  /* /proc/<pid>/stat field 22 of the owner */
  uint64_t used[GPUPOOL_REGION_MAX_DEVICES]; /* bytes the owner holds per device */
} gpupool_region_slot;

typedef struct gpupool_region_gate {
  uint32_t in_flight;        /* gated operations submitted, not yet seen complete */
  uint32_t waiting;          /* threads blocked at the gate */
  uint64_t last_submit_ns;   /* CLOCK_MONOTONIC of the last gated submission */
  uint64_t device_ns;        /* device time of completed gated work, from events */
  uint64_t wait_ns;          /* total time threads spent blocked at the gate */
  uint64_t evicted_seq;      /* sequence of the last eviction request completed */
  uint64_t resident_bytes;   /* this process's memory on the device that is resident */
  uint64_t swapped_out_bytes; /* total copied device -> host by evictions */
  uint64_t swapped_in_bytes;  /* total copied host -> device when brought back */
} gpupool_region_gate;

typedef struct gpupool_region_slot_gates {
  gpupool_region_gate device[GPUPOOL_REGION_MAX_DEVICES];
} gpupool_region_slot_gates;

typedef struct gpupool_region {
  gpupool_region_header header;
  uint64_t lock[GPUPOOL_REGION_LOCK_WORDS]; /* opaque pthread_mutex_t (see Threading) */
  gpupool_region_device devices[GPUPOOL_REGION_MAX_DEVICES];
  uint8_t reserved[3520];   /* zero; for the agent's later fields (job table, weights,
                               time-slice grants); keeps slots[] page-aligned */
  gpupool_region_slot slots[GPUPOOL_REGION_MAX_SLOTS];
  gpupool_region_slot_gates gates[GPUPOOL_REGION_MAX_SLOTS]; /* since layout version 2 */
} gpupool_region;

/* A gate's in_flight is half of a Dekker pair with the node table's grant. */
static inline uint32_t gpupool_gate_load_u32(const uint32_t* field) {
  return __atomic_load_n(field, __ATOMIC_SEQ_CST);
}
static inline uint64_t gpupool_gate_load_u64(const uint64_t* field) {
  return __atomic_load_n(field, __ATOMIC_ACQUIRE);
}

/* Static layout checks. A binding generator that cannot parse them may define
 * GPUPOOL_REGION_NO_STATIC_CHECKS. */
#if !defined(GPUPOOL_REGION_NO_STATIC_CHECKS)
#if defined(__cplusplus)
#define GPUPOOL_REGION_STATIC_ASSERT(cond, msg) static_assert(cond, msg)
#elif defined(__STDC_VERSION__) && __STDC_VERSION__ >= 201112L
#define GPUPOOL_REGION_STATIC_ASSERT(cond, msg) _Static_assert(cond, msg)
#endif
#endif

#ifdef GPUPOOL_REGION_STATIC_ASSERT
GPUPOOL_REGION_STATIC_ASSERT(sizeof(GPUPOOL_REGION_MAGIC) == 8, "magic is 8 bytes");
GPUPOOL_REGION_STATIC_ASSERT(offsetof(gpupool_region_header, layout_version) == 8, "layout");
GPUPOOL_REGION_STATIC_ASSERT(offsetof(gpupool_region_header, header_size) == 12, "layout");
GPUPOOL_REGION_STATIC_ASSERT(offsetof(gpupool_region_header, region_size) == 16, "layout");
GPUPOOL_REGION_STATIC_ASSERT(offsetof(gpupool_region_header, max_devices) == 20, "layout");
GPUPOOL_REGION_STATIC_ASSERT(offsetof(gpupool_region_header, max_slots) == 24, "layout");
GPUPOOL_REGION_STATIC_ASSERT(offsetof(gpupool_region_header, owner_uid) == 28, "layout");
GPUPOOL_REGION_STATIC_ASSERT(offsetof(gpupool_region_header, created_unix_ns) == 32, "layout");
GPUPOOL_REGION_STATIC_ASSERT(offsetof(gpupool_region_header, creator_pid) == 40, "layout");
GPUPOOL_REGION_STATIC_ASSERT(offsetof(gpupool_region_header, flags) == 44, "layout");
GPUPOOL_REGION_STATIC_ASSERT(offsetof(gpupool_region_header, job) == 48, "layout");
GPUPOOL_REGION_STATIC_ASSERT(offsetof(gpupool_region_header, retired) == 112, "layout");
GPUPOOL_REGION_STATIC_ASSERT(offsetof(gpupool_region_header, pid_namespace) == 120, "layout");
GPUPOOL_REGION_STATIC_ASSERT(offsetof(gpupool_region_header, reserved) == 128, "layout");
GPUPOOL_REGION_STATIC_ASSERT(sizeof(gpupool_region_header) == 256, "header is 256 bytes");
GPUPOOL_REGION_STATIC_ASSERT(sizeof(gpupool_region_device) == 16, "device is 16 bytes");
GPUPOOL_REGION_STATIC_ASSERT(offsetof(gpupool_region_slot, start_time) == 8, "layout");
GPUPOOL_REGION_STATIC_ASSERT(offsetof(gpupool_region_slot, used) == 16, "layout");
GPUPOOL_REGION_STATIC_ASSERT(sizeof(gpupool_region_slot) == 144, "slot is 144 bytes");
GPUPOOL_REGION_STATIC_ASSERT(offsetof(gpupool_region, lock) == 256, "layout");
GPUPOOL_REGION_STATIC_ASSERT(offsetof(gpupool_region, devices) == 320, "layout");
GPUPOOL_REGION_STATIC_ASSERT(offsetof(gpupool_region, reserved) == 576, "layout");
GPUPOOL_REGION_STATIC_ASSERT(offsetof(gpupool_region, slots) == 4096, "slots page-aligned");
GPUPOOL_REGION_STATIC_ASSERT(sizeof(gpupool_region_gate) == 64, "gate is 64 bytes");
GPUPOOL_REGION_STATIC_ASSERT(offsetof(gpupool_region_gate, device_ns) == 16, "layout");
GPUPOOL_REGION_STATIC_ASSERT(offsetof(gpupool_region_gate, swapped_in_bytes) == 56, "layout");
GPUPOOL_REGION_STATIC_ASSERT(sizeof(gpupool_region_slot_gates) == 1024, "slot gates are 1 KiB");
GPUPOOL_REGION_STATIC_ASSERT(offsetof(gpupool_region, gates) == 40960, "gates follow the slots");
GPUPOOL_REGION_STATIC_ASSERT(sizeof(gpupool_region) == 40960 + 256 * 1024, "region is 74 pages");
#undef GPUPOOL_REGION_STATIC_ASSERT
#endif

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* GPUPOOL_CONTROL_REGION_H_ */
