package io.gpupool.simulate;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class TraceReaderTest {
  static final String HEADER = "name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos,pod_phase,"
      + "creation_time,deletion_time,scheduled_time\n";
  static final String GOOD = "pod-a,12000,16384,1,1000,,LS,Running,0,100,0\n";

  @TempDir Path dir;

  private Path write(String content) throws IOException {
    return Files.writeString(dir.resolve("pods.csv"), content);
  }

  @Test
  void readsEveryRowWithItsFields() throws IOException {
    Trace trace = TraceReader.read(write(HEADER + GOOD
        + "pod-b,6000,12288,1,460,V100M16|V100M32,BE,Failed,5,95,10\n"
        + "\"pod,c\",0,0,0,0,,BE,Pending,7,9,\n"));
    assertTrue(trace.timed());
    assertEquals(3, trace.tasks().size());
    TraceTask b = trace.tasks().get(1);
    assertEquals(3, b.line());
    assertEquals(460, b.gpuMilli());
    assertEquals(Set.of("V100M16", "V100M32"), b.gpuModels());
    assertEquals(85, b.runSeconds());
    assertEquals(0.46, b.gpuFraction());
    TraceTask c = trace.tasks().get(2);
    assertEquals("pod,c", c.name());
    assertEquals(TraceTask.NO_TIME, c.scheduled());
    assertFalse(c.ranInTrace());
  }

  @Test
  void aFileWithoutTheTimeColumnsIsUntimed() throws IOException {
    Trace trace = TraceReader.read(write("name,cpu_milli,memory_mib,num_gpu,gpu_milli\np,1,1,2,1000\n"));
    assertFalse(trace.timed());
    assertTrue(trace.tasks().get(0).ranInTrace());
    assertEquals(Double.POSITIVE_INFINITY, trace.tasks().get(0).runSeconds());
  }

  @ParameterizedTest(name = "{3}")
  @CsvSource(delimiter = ';', quoteCharacter = '`', value = {
      // line ; column ; what the message says ; the faulty row (after HEADER and GOOD)
      "3;gpu_milli;'abc' is not a whole number;p,1,1,1,abc,,LS,Running,0,1,0",
      "3;cpu_milli;-5 is negative;p,-5,1,1,500,,LS,Running,0,1,0",
      "3;;10 fields, the header has 11 columns;p,1,1,1,500,,LS,Running,0,1",
      "3;deletion_time;negative duration;p,1,1,1,500,,LS,Running,0,40,50",
      "3;scheduled_time;is before creation_time;p,1,1,1,500,,LS,Running,60,90,50",
      "3;gpu_milli;1500 is not in 0..1000;p,1,1,1,1500,,LS,Running,0,1,0",
      "3;gpu_milli;num_gpu is 0;p,1,1,0,500,,LS,Running,0,1,0",
      "3;gpu_milli;must ask for some of each GPU;p,1,1,2,0,,LS,Running,0,1,0",
      "3;pod_phase;'Done' is not a pod phase;p,1,1,1,500,,LS,Done,0,1,0",
      "3;gpu_spec;empty model name;p,1,1,1,500,V100||T4,LS,Running,0,1,0",
      "3;name;empty;,1,1,1,500,,LS,Running,0,1,0",
      "3;creation_time;empty;p,1,1,1,500,,LS,Running,,1,0",
      "3;;a quoted field is not closed;\"p,1,1,1,500,,LS,Running,0,1,0",
  })
  void aMalformedRowNamesFileLineAndColumn(int line, String column, String problem, String row) throws IOException {
    Path file = write(HEADER + GOOD + row + "\n" + GOOD);
    TraceFormatException e = assertThrows(TraceFormatException.class, () -> TraceReader.read(file));
    assertEquals(line, e.line());
    assertTrue(e.getMessage().startsWith(file + ":" + line + ": "), e.getMessage());
    if (column != null) assertTrue(e.getMessage().contains("column '" + column + "'"), e.getMessage());
    assertTrue(e.getMessage().contains(problem), e.getMessage());
  }

  @Test
  void anUnknownColumnIsRefusedNotIgnored() throws IOException {
    Path file = write("name,cpu_milli,memory_mib,num_gpu,gpu_milli,priority\np,1,1,1,500,3\n");
    TraceFormatException e = assertThrows(TraceFormatException.class, () -> TraceReader.read(file));
    assertEquals(1, e.line());
    assertTrue(e.getMessage().contains("column 'priority': unknown column"), e.getMessage());
  }

  @Test
  void headerProblemsAreNamed() throws IOException {
    assertTrue(message("name,cpu_milli,memory_mib,gpu_milli\np,1,1,500\n").contains("column 'num_gpu': missing"));
    assertTrue(message("name,cpu_milli,memory_mib,num_gpu,gpu_milli,creation_time,deletion_time\np,1,1,1,500,0,1\n")
        .contains("column 'scheduled_time': missing: the time columns"));
    assertTrue(message("name,name,cpu_milli,memory_mib,num_gpu,gpu_milli\n").contains("column 'name': appears twice"));
    assertTrue(message("").contains("no header line"));
    assertTrue(message(HEADER).contains("no tasks"));
  }

  @Test
  void aBlankLineInsideTheTableIsAnErrorButTrailingOnesAreNot() throws IOException {
    assertEquals(1, TraceReader.read(write(HEADER + GOOD + "\n\n")).tasks().size());
    Path file = write(HEADER + GOOD + "\n" + GOOD);
    TraceFormatException e = assertThrows(TraceFormatException.class, () -> TraceReader.read(file));
    assertEquals(3, e.line());
  }

  private String message(String content) throws IOException {
    Path file = write(content);
    return assertThrows(TraceFormatException.class, () -> TraceReader.read(file)).getMessage();
  }
}
