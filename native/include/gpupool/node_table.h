/* node_table.h — the agent's node table: devices, granted jobs and their quotas.
 *
 * This header is the single definition of the table's layout. The agent (Java)
 * binds it with JavaCPP and is its only writer; the shim (C++) maps it
 * read-only. Plain C: fixed-width types, no bit-fields, no C++ constructs.
 *
 * Contract
 *   One table per agent: a file in /dev/shm named by the agent
 *   ("gpupool-node-<agent uid>-<instance>", see GPUPOOL_NODE_TABLE_PREFIX),
 *   mode 0644, owned by the agent's user, exactly sizeof(gpupool_node_table)
 *   bytes. The agent hands its path to each job it admits (GPUPOOL_AGENT_TABLE)
 *   with the job's entry index (GPUPOOL_AGENT_ENTRY) and key (GPUPOOL_JOB).
 *
 *   A job maps the table with O_RDONLY / PROT_READ and never writes it: what
 *   only the agent decides (grants, quotas, weights, devices) cannot be raised
 *   by the job, even by accident. A reader accepts the table only if its size
 *   is sizeof(gpupool_node_table) and magic, layout_version, header_size,
 *   table_size, max_devices, max_jobs and owner_uid (== the file's owner) equal
 *   this header's values; and it accepts its entry only while the entry's state
 *   is GPUPOOL_JOB_RUNNING and its key and uid are the job's own. Anything else
 *   is refused, never repaired.
 *   (The shim also refuses a table that group or others may write: the file's
 *   mode is 0644, so that only the agent's user can write it.)
 *
 * Compatibility
 *   As control_region.h: fields never move, resize or change meaning; new
 *   fields come from reserved bytes and bump GPUPOOL_NODE_TABLE_LAYOUT_VERSION.
 *
 * Creation
 *   The agent builds the table under "<final name>~<pid>" (O_CREAT|O_EXCL,
 *   mode 0644), writes everything, then `magic` last (after a release fence),
 *   and renames it to the final name. An agent that restarts reopens an existing
 *   valid table of its own and adopts the RUNNING entries in it: jobs keep the
 *   grants and limits they run under.
 *
 * Threading
 *   The agent is the only writer and serialises its own writes. Every 64-bit
 *   field that changes while jobs read it (limit_bytes, weight, granted_bytes,
 *   generation, heartbeat_unix_ns) is stored with gpupool_node_store_u64 and
 *   read with gpupool_node_load_u64: 64-bit atomic, so a reader never sees a
 *   torn value. An entry's identity (job_id, uid, key, name, team, devices,
 *   submit time) is written while its state is GPUPOOL_JOB_FREE, then `state`
 *   is stored (release) as RUNNING; identity never changes while RUNNING. A
 *   released entry goes back to FREE first, and its `generation` is bumped
 *   before it is reused, so a job that checks (state, generation, key) again
 *   knows whether its entry is still its own.
 *
 * Quotas
 *   jobs[i].limit_bytes[d] is the job's memory limit on physical device d
 *   (the driver ordinal on the node, before any GPUPOOL_VISIBLE_DEVICES
 *   renumbering); GPUPOOL_NODE_UNLIMITED: none; 0 on a device the job was not
 *   granted. The agent may change a limit while the job runs (the shim reads it
 *   at every charge); it never lowers one below what the job uses.
 *   "Physical" ordinals are those the driver gives a process that has no
 *   CUDA_VISIBLE_DEVICES, the numbers GPUPOOL_VISIBLE_DEVICES uses (so an agent
 *   that enumerates devices through the driver does it with
 *   CUDA_VISIBLE_DEVICES unset). The shim maps the job's ordinal d to the d-th
 *   entry of GPUPOOL_VISIBLE_DEVICES (within the job's own CUDA_VISIBLE_DEVICES)
 *   and reads limit_bytes[] only, not jobs[i].devices[].
 *
 * Time slices (layout version 2)
 *   slices[d] is the agent's time-slice state of physical device d. `grant`
 *   packs a sequence number and a holder (GPUPOOL_SLICE_GRANT): holder
 *   GPUPOOL_SLICE_OPEN means no gate (every job on d submits freely),
 *   GPUPOOL_SLICE_NOBODY means a hand-over is in progress (nobody submits),
 *   anything else is (entry index + 1) of the one job allowed to submit device
 *   work (launches, graph launches, copies, memsets) on d. The agent bumps the
 *   sequence number at every change.
 *   Hand-over (a Dekker pair, both sides sequentially consistent): a job's
 *   process first increments its gate's in_flight (control_region.h), then
 *   loads `grant`; if the holder is not its job it decrements in_flight and
 *   waits. The agent first stores the new grant (NOBODY), then waits until
 *   in_flight of every live process of the old holder is 0 (its submitted work
 *   has completed on the device, seen through events), and only then stores
 *   the next holder. So no two jobs' work overlaps on a gated device except
 *   what a process had in flight when the gate closed, and a process keeps at
 *   most `depth` operations in flight, so that overrun is bounded. The agent
 *   sets depth 1 while another job waits for the device and more while none
 *   does; a process queues beyond one operation only as much as fits in a
 *   tenth of `quantum_ns` of device time (the shim's estimate per operation),
 *   so the overrun when a job starts waiting stays near that budget.
 *   `evict` asks one job to swap its memory on d out to host (oversubscribed
 *   devices only): the job's processes copy their allocations to host, release
 *   the physical memory, and store the request's sequence number in their
 *   gate's evicted_seq; they bring the memory back, at the same addresses,
 *   before they submit again.
 *
 * Usage
 *   The table holds grants, not usage. Usage lives in each job's own control
 *   region (control_region.h), which the job writes and the agent reads.
 */
#ifndef GPUPOOL_NODE_TABLE_H_
#define GPUPOOL_NODE_TABLE_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define GPUPOOL_NODE_TABLE_MAGIC "GPUNODE" /* 7 characters and the NUL: 8 bytes */
#define GPUPOOL_NODE_TABLE_LAYOUT_VERSION 2u
#define GPUPOOL_NODE_MAX_DEVICES 16u
#define GPUPOOL_NODE_MAX_JOBS 128u
#define GPUPOOL_NODE_JOB_BYTES 64u   /* job key and its NUL, zero-padded (as control_region.h) */
#define GPUPOOL_NODE_LABEL_BYTES 64u /* name / team and the NUL, zero-padded */
#define GPUPOOL_NODE_DEVICE_NAME_BYTES 96u
#define GPUPOOL_NODE_UNLIMITED UINT64_MAX
#define GPUPOOL_NODE_TABLE_PREFIX "gpupool-node-" /* then "<uid>-<instance>" in /dev/shm */

/* slice.grant: (sequence << 8) | holder */
#define GPUPOOL_SLICE_NOBODY 0x00u /* hand-over in progress: no job submits */
#define GPUPOOL_SLICE_OPEN 0xFFu   /* no gate: every job submits */
#define GPUPOOL_SLICE_GRANT(seq, holder) ((((uint64_t)(seq)) << 8) | (uint64_t)(holder))
#define GPUPOOL_SLICE_HOLDER(grant) ((uint32_t)((grant) & 0xFFu))
#define GPUPOOL_SLICE_SEQ(grant) ((uint64_t)(grant) >> 8)
/* slice.flags */
#define GPUPOOL_SLICE_FLAG_OVERSUBSCRIBED 0x1u /* quotas may exceed memory: allocations swappable */

/* job.state */
#define GPUPOOL_JOB_FREE 0u
#define GPUPOOL_JOB_RUNNING 1u

typedef struct gpupool_node_header {
  char magic[8];            /* GPUPOOL_NODE_TABLE_MAGIC; written last by the creator */
  uint32_t layout_version;  /* GPUPOOL_NODE_TABLE_LAYOUT_VERSION */
  uint32_t header_size;     /* sizeof(gpupool_node_header) */
  uint32_t table_size;      /* sizeof(gpupool_node_table) */
  uint32_t max_devices;     /* GPUPOOL_NODE_MAX_DEVICES */
  uint32_t max_jobs;        /* GPUPOOL_NODE_MAX_JOBS */
  uint32_t owner_uid;       /* the agent's user; the file's owner */
  uint64_t created_unix_ns; /* CLOCK_REALTIME at creation */
  int32_t agent_pid;        /* the agent that last opened the table */
  uint32_t device_count;    /* devices[0 .. device_count-1] are valid */
  uint64_t agent_start_time;  /* /proc/<agent_pid>/stat field 22 */
  uint64_t heartbeat_unix_ns; /* refreshed by the agent while it runs (atomic) */
  uint64_t next_job_id;       /* the agent's counter; survives restarts */
  uint8_t reserved[184];      /* zero */
} gpupool_node_header;

typedef struct gpupool_node_device {
  uint64_t total_bytes;   /* cuDeviceTotalMem of the physical device */
  uint64_t granted_bytes; /* sum of RUNNING jobs' limit_bytes on it (atomic) */
  uint8_t uuid[16];       /* cuDeviceGetUuid */
  char name[GPUPOOL_NODE_DEVICE_NAME_BYTES]; /* cuDeviceGetName, NUL-terminated */
} gpupool_node_device;

typedef struct gpupool_node_job {
  uint32_t state;       /* GPUPOOL_JOB_*; stored with release, loaded with acquire */
  uint32_t uid;         /* the user who submitted the job (peer credentials) */
  uint64_t generation;  /* bumped each time the entry is reused (atomic) */
  uint64_t job_id;      /* the agent's id for the job, unique on this node */
  char key[GPUPOOL_NODE_JOB_BYTES];     /* GPUPOOL_JOB of the job's processes */
  char name[GPUPOOL_NODE_LABEL_BYTES];  /* --name */
  char team[GPUPOOL_NODE_LABEL_BYTES];  /* --team */
  int32_t launcher_pid;       /* the `gpupool run` process */
  uint32_t device_count;      /* devices[0 .. device_count-1] are granted */
  uint64_t launcher_start_time; /* /proc/<launcher_pid>/stat field 22 */
  uint64_t submitted_unix_ns;
  uint64_t started_unix_ns;
  uint64_t weight;            /* time-slice weight (atomic) */
  int32_t devices[GPUPOOL_NODE_MAX_DEVICES]; /* physical ordinals, in the job's order */
  uint64_t limit_bytes[GPUPOOL_NODE_MAX_DEVICES]; /* per physical device (atomic) */
  uint8_t reserved[64];       /* zero */
} gpupool_node_job;

typedef struct gpupool_node_slice {
  uint64_t grant;      /* GPUPOOL_SLICE_GRANT(seq, holder) (atomic, sequentially consistent) */
  uint64_t quantum_ns; /* length of a slice; a tenth is the queue budget */
  uint64_t evict;      /* GPUPOOL_SLICE_GRANT(seq, entry + 1) of the job asked to swap out; 0: none (atomic) */
  uint32_t flags;      /* GPUPOOL_SLICE_FLAG_* */
  uint32_t depth;      /* most gated operations a process keeps in flight; >= 1 */
  uint8_t reserved[32]; /* zero */
} gpupool_node_slice;

typedef struct gpupool_node_table {
  gpupool_node_header header;
  gpupool_node_device devices[GPUPOOL_NODE_MAX_DEVICES];
  gpupool_node_job jobs[GPUPOOL_NODE_MAX_JOBS];
  gpupool_node_slice slices[GPUPOOL_NODE_MAX_DEVICES]; /* since layout version 2 */
} gpupool_node_table;

/* 64-bit fields that change while others read them (see Threading). */
static inline void gpupool_node_store_u64(uint64_t* field, uint64_t value) {
  __atomic_store_n(field, value, __ATOMIC_RELEASE);
}
static inline uint64_t gpupool_node_load_u64(const uint64_t* field) {
  return __atomic_load_n(field, __ATOMIC_ACQUIRE);
}
/* slice.grant and the gates' in_flight form a Dekker pair: sequentially consistent. */
static inline void gpupool_node_store_grant(uint64_t* grant, uint64_t value) {
  __atomic_store_n(grant, value, __ATOMIC_SEQ_CST);
}
static inline uint64_t gpupool_node_load_grant(const uint64_t* grant) {
  return __atomic_load_n(grant, __ATOMIC_SEQ_CST);
}
static inline void gpupool_node_store_state(uint32_t* state, uint32_t value) {
  __atomic_store_n(state, value, __ATOMIC_RELEASE);
}
static inline uint32_t gpupool_node_load_state(const uint32_t* state) {
  return __atomic_load_n(state, __ATOMIC_ACQUIRE);
}

#if !defined(GPUPOOL_REGION_NO_STATIC_CHECKS)
#if defined(__cplusplus)
#define GPUPOOL_NODE_STATIC_ASSERT(cond, msg) static_assert(cond, msg)
#elif defined(__STDC_VERSION__) && __STDC_VERSION__ >= 201112L
#define GPUPOOL_NODE_STATIC_ASSERT(cond, msg) _Static_assert(cond, msg)
#endif
#endif

#ifdef GPUPOOL_NODE_STATIC_ASSERT
GPUPOOL_NODE_STATIC_ASSERT(sizeof(GPUPOOL_NODE_TABLE_MAGIC) == 8, "magic is 8 bytes");
GPUPOOL_NODE_STATIC_ASSERT(offsetof(gpupool_node_header, created_unix_ns) == 32, "layout");
GPUPOOL_NODE_STATIC_ASSERT(offsetof(gpupool_node_header, agent_pid) == 40, "layout");
GPUPOOL_NODE_STATIC_ASSERT(offsetof(gpupool_node_header, agent_start_time) == 48, "layout");
GPUPOOL_NODE_STATIC_ASSERT(offsetof(gpupool_node_header, heartbeat_unix_ns) == 56, "layout");
GPUPOOL_NODE_STATIC_ASSERT(offsetof(gpupool_node_header, next_job_id) == 64, "layout");
GPUPOOL_NODE_STATIC_ASSERT(sizeof(gpupool_node_header) == 256, "header is 256 bytes");
GPUPOOL_NODE_STATIC_ASSERT(sizeof(gpupool_node_device) == 128, "device is 128 bytes");
GPUPOOL_NODE_STATIC_ASSERT(offsetof(gpupool_node_job, generation) == 8, "layout");
GPUPOOL_NODE_STATIC_ASSERT(offsetof(gpupool_node_job, key) == 24, "layout");
GPUPOOL_NODE_STATIC_ASSERT(offsetof(gpupool_node_job, launcher_pid) == 216, "layout");
GPUPOOL_NODE_STATIC_ASSERT(offsetof(gpupool_node_job, launcher_start_time) == 224, "layout");
GPUPOOL_NODE_STATIC_ASSERT(offsetof(gpupool_node_job, weight) == 248, "layout");
GPUPOOL_NODE_STATIC_ASSERT(offsetof(gpupool_node_job, devices) == 256, "layout");
GPUPOOL_NODE_STATIC_ASSERT(offsetof(gpupool_node_job, limit_bytes) == 320, "layout");
GPUPOOL_NODE_STATIC_ASSERT(sizeof(gpupool_node_job) == 512, "job is 512 bytes");
GPUPOOL_NODE_STATIC_ASSERT(offsetof(gpupool_node_table, devices) == 256, "layout");
GPUPOOL_NODE_STATIC_ASSERT(offsetof(gpupool_node_table, jobs) == 2304, "layout");
GPUPOOL_NODE_STATIC_ASSERT(sizeof(gpupool_node_slice) == 64, "slice is 64 bytes");
GPUPOOL_NODE_STATIC_ASSERT(offsetof(gpupool_node_slice, evict) == 16, "layout");
GPUPOOL_NODE_STATIC_ASSERT(offsetof(gpupool_node_slice, depth) == 28, "layout");
GPUPOOL_NODE_STATIC_ASSERT(offsetof(gpupool_node_table, slices) == 2304 + 128 * 512, "layout");
GPUPOOL_NODE_STATIC_ASSERT(sizeof(gpupool_node_table) == 2304 + 128 * 512 + 16 * 64, "table size");
#undef GPUPOOL_NODE_STATIC_ASSERT
#endif

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* GPUPOOL_NODE_TABLE_H_ */
