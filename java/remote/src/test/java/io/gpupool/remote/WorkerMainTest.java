package io.gpupool.remote;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/** The worker as the agent starts it: a process, its one announcement line and its exit status. */
class WorkerMainTest {
  private static ProcessBuilder worker(String secretHex) {
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    ProcessBuilder pb = new ProcessBuilder(List.of(java, "-cp", System.getProperty("java.class.path"),
        WorkerMain.class.getName(), "--bind", "127.0.0.1"));
    if (secretHex == null) pb.environment().remove("GPUPOOL_WORKER_SECRET");
    else pb.environment().put("GPUPOOL_WORKER_SECRET", secretHex);
    return pb;
  }

  @Test
  void announcesItsPortServesOneSessionAndExitsZero() throws Exception {
    Process p = worker(HexFormat.of().formatHex(WorkerSessionTest.SECRET)).redirectError(ProcessBuilder.Redirect.INHERIT).start();
    try {
      BufferedReader out = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
      String line = out.readLine();
      Matcher m = Pattern.compile("gpupool-worker listening (\\S+):(\\d+)").matcher(String.valueOf(line));
      assertTrue(m.matches(), "announcement: " + line);
      try (RawClient c = new RawClient(new InetSocketAddress(m.group(1), Integer.parseInt(m.group(2))))) {
        assertTrue(c.attach(WorkerSessionTest.SECRET).hasWelcome());
        c.call(Calls.alloc(1 << 20), Calls.sync());
        assertEquals(0, c.reply().getResult());
        assertEquals(0, c.reply().getResult());
      }
      assertTrue(p.waitFor(30, TimeUnit.SECONDS), "exits when the client goes");
      assertEquals(0, p.exitValue());
    } finally {
      p.destroyForcibly();
    }
  }

  @Test
  void aMissingOrMalformedSecretIsAUsageError() throws Exception {
    for (String secret : new String[] {null, "abc", "zz".repeat(32)}) {
      Process p = worker(secret).redirectErrorStream(true).start();
      String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      assertTrue(p.waitFor(30, TimeUnit.SECONDS));
      assertEquals(WorkerMain.EXIT_USAGE, p.exitValue(), output);
      assertTrue(output.contains("GPUPOOL_WORKER_SECRET"), output);
    }
  }
}
