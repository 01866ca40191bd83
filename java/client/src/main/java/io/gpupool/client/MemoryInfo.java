package io.gpupool.client;

/** {@code cuMemGetInfo}: free and total device memory as the session sees it (its quota, remotely). */
public record MemoryInfo(long freeBytes, long totalBytes) {}
