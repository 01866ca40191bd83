package io.gpupool.simulate;

/**
 * One node of a node list (openb schema {@code sn, cpu_milli, memory_mib, gpu, model}): a node
 * agent's worth of identical GPUs.
 *
 * @param line its line in the file (for messages)
 */
public record ClusterNode(int line, String name, long cpuMilli, long memoryMib, int gpus, String model) {}
