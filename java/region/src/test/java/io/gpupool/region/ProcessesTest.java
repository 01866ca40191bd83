package io.gpupool.region;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.OptionalLong;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ProcessesTest {
  private static final int SELF = (int) ProcessHandle.current().pid();

  @Test
  void thisProcessIsAlive() {
    OptionalLong start = Processes.startTime(SELF);
    assertTrue(start.isPresent());
    assertTrue(Processes.alive(SELF, start.getAsLong()));
    assertFalse(Processes.alive(SELF, start.getAsLong() + 1), "another start time is another process");
  }

  @Test
  void noSuchProcess() {
    assertTrue(Processes.startTime(0).isEmpty());
    assertTrue(Processes.startTime(-5).isEmpty());
    assertTrue(Processes.startTime(Integer.MAX_VALUE).isEmpty());
  }

  @Test
  void aFinishedChildIsNotAlive() throws Exception {
    Process child = new ProcessBuilder("sleep", "30").start();
    int pid = (int) child.pid();
    long start = Processes.startTime(pid).orElseThrow();
    assertTrue(Processes.alive(pid, start));
    child.destroyForcibly();
    assertTrue(child.waitFor(10, TimeUnit.SECONDS));
    assertFalse(Processes.alive(pid, start));
  }

  @Test
  void commandNameWithParenthesesAndSpaces(@TempDir Path dir) throws Exception {
    Path sleep = dir.resolve("a) (b");
    Files.copy(Path.of("/bin/sleep"), sleep, StandardCopyOption.COPY_ATTRIBUTES);
    Process child = new ProcessBuilder(sleep.toString(), "30").start();
    try {
      int pid = (int) child.pid();
      String stat = Files.readString(Path.of("/proc/" + pid + "/stat"));
      assertTrue(stat.contains("(a) (b)"), stat);
      long start = Processes.startTime(pid).orElseThrow();
      assertTrue(start >= Processes.startTime(SELF).orElseThrow(), "started after this JVM");
      assertTrue(Processes.alive(pid, start));
    } finally {
      child.destroyForcibly();
      child.waitFor(10, TimeUnit.SECONDS);
    }
  }

  @Test
  void parsesAfterTheLastParenthesis() {
    String fields = " S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 777 19 20";
    assertEquals(777, Processes.parseStartTime("42 (x) (y) z)" + fields).orElseThrow());
    assertTrue(Processes.parseStartTime("42 (zombie)" + fields.replace(" S ", " Z ")).isEmpty());
    assertTrue(Processes.parseStartTime("42 (cut) S 1").isEmpty());
  }

  @Test
  void effectiveUid(@TempDir Path dir) throws Exception {
    Path mine = Files.createFile(dir.resolve("mine"));
    assertEquals((Integer) Files.getAttribute(mine, "unix:uid"), Processes.euid());
  }
}
