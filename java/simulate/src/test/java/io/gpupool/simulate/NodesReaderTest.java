package io.gpupool.simulate;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class NodesReaderTest {
  static final String HEADER = "sn,cpu_milli,memory_mib,gpu,model\n";

  @TempDir Path dir;

  private Path write(String content) throws IOException {
    return Files.writeString(dir.resolve("nodes.csv"), content);
  }

  @Test
  void readsEveryNode() throws IOException {
    List<ClusterNode> nodes = NodesReader.read(write(HEADER + "n0,64000,262144,2,P100\nn1,96000,786432,8,V100M32\n"));
    assertEquals(List.of(new ClusterNode(2, "n0", 64000, 262144, 2, "P100"),
        new ClusterNode(3, "n1", 96000, 786432, 8, "V100M32")), nodes);
  }

  @ParameterizedTest(name = "{3}")
  @CsvSource(delimiter = '|', value = {
      "3|gpu|0 is not in 1..16|n1,1,1,0,T4",
      "3|gpu|17 is not in 1..16|n1,1,1,17,T4",
      "3|memory_mib|'lots' is not a whole number|n1,1,lots,2,T4",
      "3|sn|'n0' is already the node on line 2|n0,1,1,2,T4",
      "3|model|empty|n1,1,1,2,",
      "3||4 fields, the header has 5 columns|n1,1,1,2",
  })
  void aMalformedRowNamesFileLineAndColumn(int line, String column, String problem, String row) throws IOException {
    Path file = write(HEADER + "n0,64000,262144,2,P100\n" + row + "\n");
    TraceFormatException e = assertThrows(TraceFormatException.class, () -> NodesReader.read(file));
    assertEquals(line, e.line());
    assertTrue(e.getMessage().startsWith(file + ":" + line + ": "), e.getMessage());
    if (column != null) assertTrue(e.getMessage().contains("column '" + column + "'"), e.getMessage());
    assertTrue(e.getMessage().contains(problem), e.getMessage());
  }

  @Test
  void theHeaderMustBeTheSchemas() throws IOException {
    Path extra = write("sn,cpu_milli,memory_mib,gpu,model,rack\nn0,1,1,2,P100,r1\n");
    assertTrue(assertThrows(TraceFormatException.class, () -> NodesReader.read(extra)).getMessage()
        .contains("column 'rack': unknown column"));
    Path missing = write("sn,cpu_milli,memory_mib,gpu\nn0,1,1,2\n");
    assertTrue(assertThrows(TraceFormatException.class, () -> NodesReader.read(missing)).getMessage()
        .contains("column 'model': missing"));
    Path empty = write(HEADER);
    assertTrue(assertThrows(TraceFormatException.class, () -> NodesReader.read(empty)).getMessage().contains("no nodes"));
  }
}
