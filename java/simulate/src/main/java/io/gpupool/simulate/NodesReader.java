package io.gpupool.simulate;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;

/**
 * Reads a node list of the openb schema ({@code sn, cpu_milli, memory_mib, gpu, model}, all
 * required). A node has 1 to {@link #MAX_GPUS} GPUs (as many as one agent's node table holds) and
 * a unique name; faults are {@link TraceFormatException}s naming file, line and column.
 */
public final class NodesReader {
  static final List<String> COLUMNS = List.of("sn", "cpu_milli", "memory_mib", "gpu", "model");
  /** GPUPOOL_NODE_MAX_DEVICES in native/include/gpupool/node_table.h. */
  static final int MAX_GPUS = 16;

  private NodesReader() {}

  public static List<ClusterNode> read(Path file) throws IOException {
    CsvTable table = CsvTable.read(file, new LinkedHashSet<>(COLUMNS), new LinkedHashSet<>(COLUMNS));
    List<ClusterNode> nodes = new ArrayList<>();
    Map<String, Integer> seen = new HashMap<>();
    for (CsvTable.Row row : table.rows()) {
      String name = row.required("sn");
      Integer first = seen.putIfAbsent(name, row.line());
      if (first != null) throw row.error("sn", "'" + name + "' is already the node on line " + first);
      nodes.add(new ClusterNode(row.line(), name, row.number("cpu_milli", 0, Long.MAX_VALUE),
          row.number("memory_mib", 0, Long.MAX_VALUE), (int) row.number("gpu", 1, MAX_GPUS), row.required("model")));
    }
    if (nodes.isEmpty()) throw new TraceFormatException(file, 0, null, "no nodes (only a header)");
    return nodes;
  }
}
