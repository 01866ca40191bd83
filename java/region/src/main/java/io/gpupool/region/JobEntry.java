package io.gpupool.region;

/**
 * A job's entry in the node table ({@code gpupool_node_job}), as published by the agent and
 * read back. Arrays are not copied: records are compared by array identity.
 *
 * @param jobId the agent's id for the job ({@link NodeTable#nextJobId()})
 * @param uid the user who submitted the job
 * @param key the job key (GPUPOOL_JOB): 1..48 characters of [A-Za-z0-9_.-]
 * @param name the job's name, less than 64 bytes of UTF-8 (null: empty)
 * @param team the job's team, less than 64 bytes of UTF-8 (null: empty)
 * @param launcherPid the {@code gpupool run} process
 * @param launcherStartTime its start time ({@link Processes#startTime(int)})
 * @param submittedUnixNs when the job was submitted (CLOCK_REALTIME, ns)
 * @param startedUnixNs when it was admitted (CLOCK_REALTIME, ns)
 * @param weight its time-slice weight
 * @param devices the physical ordinals granted, in the job's order
 * @param limitBytes the memory limit per PHYSICAL device (index = ordinal), length
 *     {@link NodeTable#maxDevices()} when read; a shorter array is published zero-padded;
 *     {@code -1} (uint64 max, GPUPOOL_NODE_UNLIMITED) means unlimited, 0 not granted
 * @param generation the entry's generation (bumped at each release); ignored by
 *     {@link NodeTable#publish}, which keeps the entry's own
 */
public record JobEntry(long jobId, int uid, String key, String name, String team,
    int launcherPid, long launcherStartTime, long submittedUnixNs, long startedUnixNs,
    long weight, int[] devices, long[] limitBytes, long generation) {}
