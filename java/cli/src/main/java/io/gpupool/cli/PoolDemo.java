package io.gpupool.cli;

import io.gpupool.agent.Agent;
import io.gpupool.agent.AgentOptions;
import io.gpupool.agent.LocalSocketServer;
import io.gpupool.agent.web.StatusHttpServer;
import io.gpupool.driver.DeviceProperties;
import io.gpupool.region.DeviceRecord;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.io.PrintWriter;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * The pooling half of `gpupool demo`: an agent on this node's GPUs (simulated where there are
 * none), four jobs of different sizes through `gpupool run`, and what each got. Each job is the
 * example program job_probe, which asks the driver for its memory, allocates within its quota,
 * tries to go beyond it, and exits.
 */
final class PoolDemo {
  private record Spec(String name, String team, double share) {}

  // Shares of one GPU: the first three do not fit on one GPU together, so on a one-GPU node the
  // third waits for the first.
  private static final List<Spec> JOBS = List.of(new Spec("resnet-train", "vision", 0.5),
      new Spec("bert-finetune", "nlp", 0.375), new Spec("eval-sweep", "vision", 0.25), new Spec("notebook", "research", 0.0625));

  private PoolDemo() {}

  /** Held so that the level set in {@link #run} sticks (loggers are weakly referenced). */
  private static final java.util.logging.Logger AGENT_LOG = java.util.logging.Logger.getLogger("io.gpupool.agent");

  static int run(PrintWriter out, List<DeviceProperties> devices, boolean simulated) throws Exception {
    AGENT_LOG.setLevel(java.util.logging.Level.WARNING); // the demo prints its own summary
    Path home = Path.of(System.getProperty("gpupool.home", "."));
    Path probe = findProbe(home);
    Path dir = Files.createTempDirectory("gpupool-demo-");
    Path socket = dir.resolve("agent.sock");
    List<DeviceRecord> records = new ArrayList<>();
    for (DeviceProperties d : devices) records.add(new DeviceRecord(d.totalMemoryBytes(), d.uuid(), d.name()));
    Map<String, String> jobEnv = simulated ? AgentCommand.simJobEnvironment(System.getenv()) : Map.of();
    AgentOptions options = new AgentOptions(socket, null, dir.resolve("state"), AgentOptions.instanceFor(socket),
        simulated, jobEnv, 100);
    long gpu = devices.get(0).totalMemoryBytes();
    out.printf("%npooling: an agent on %d %s GPU(s), 4 jobs through `gpupool run`%n", devices.size(),
        simulated ? "simulated" : "real");
    try (Agent agent = Agent.start(options, records);
         LocalSocketServer server = LocalSocketServer.start(agent, socket);
         StatusHttpServer web = new StatusHttpServer("127.0.0.1", 0, agent::status, agent::report)) {
      out.printf("status page: http://%s/   metrics: http://%s/metrics   (while the demo runs)%n",
          AgentCommand.hostPort(web.address()), AgentCommand.hostPort(web.address()));
      List<Process> processes = new ArrayList<>();
      List<List<String>> stderr = new ArrayList<>();
      for (Spec s : JOBS) {
        long quota = (long) (gpu * s.share()) & ~((1L << 20) - 1);
        Process p = startJob(home, socket, probe, s, quota);
        processes.add(p);
        stderr.add(echoStderr(p, s.name(), out));
        Thread.sleep(200); // submission order = queue order, for a readable demo
      }
      List<List<String>> outputs = new ArrayList<>();
      for (Process p : processes) outputs.add(readAll(p));
      out.printf("%n%-14s %-9s %10s  %-7s %-18s %-11s %-26s %-28s %s%n", "JOB", "TEAM", "QUOTA", "WAITED",
          "cuMemGetInfo total", "NVML total", "alloc 3/4 of quota", "alloc 1.5x quota", "EXIT");
      int failures = 0;
      for (int i = 0; i < JOBS.size(); i++) {
        Spec s = JOBS.get(i);
        long quota = (long) (gpu * s.share()) & ~((1L << 20) - 1);
        Process p = processes.get(i);
        List<String> lines = outputs.get(i);
        if (!p.waitFor(120, TimeUnit.SECONDS)) p.destroyForcibly();
        boolean waited;
        synchronized (stderr.get(i)) {
          waited = stderr.get(i).stream().anyMatch(l -> l.contains("waiting for"));
        }
        int code = p.exitValue();
        String total = field(lines, "info", "total=");
        // What nvidia-smi inside the job would show; a machine without NVML shows "-".
        boolean noNvml = lines.stream().anyMatch(l -> l.startsWith("nvml unavailable"));
        String nvmlTotal = "0".equals(field(lines, "nvml", "rc=")) ? field(lines, "nvml", "total=") : null;
        String inQuota = result(lines, 0);
        String over = result(lines, 1);
        boolean ok = code == 0 && Long.toString(quota).equals(total) && inQuota.equals("CUDA_SUCCESS")
            && over.equals("CUDA_ERROR_OUT_OF_MEMORY") && (noNvml || Long.toString(quota).equals(nvmlTotal));
        if (!ok) failures++;
        out.printf("%-14s %-9s %10s  %-7s %-18s %-11s %-26s %-28s %d%s%n", s.name(), s.team(), Sizes.format(quota),
            waited ? "yes" : "no", total == null ? "?" : Sizes.format(Long.parseLong(total)),
            noNvml ? "-" : nvmlTotal == null ? "?" : Sizes.format(Long.parseLong(nvmlTotal)), inQuota, over, code,
            ok ? "" : "  <- unexpected");
      }
      out.println(failures == 0 ? "pooling: every job saw its quota and was held to it -> OK"
          : "pooling: " + failures + " job(s) did not get what they asked -> WRONG");
      return failures == 0 ? 0 : 1;
    } finally {
      // The demo's agent is gone for good: its node table goes too (a real agent's stays).
      Files.deleteIfExists(io.gpupool.region.NodeTable.defaultPath(options.tableInstance()));
      try (var files = Files.walk(dir)) {
        files.sorted(java.util.Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
      }
    }
  }

  private static Process startJob(Path home, Path socket, Path probe, Spec s, long quota) throws IOException {
    List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "-Dgpupool.home=" + home, "-cp", System.getProperty("java.class.path"), Main.class.getName(),
        "run", "--socket", socket.toString(), "--memory", Long.toString(quota), "--name", s.name(), "--team", s.team(),
        "--", probe.toString()));
    Process p = new ProcessBuilder(cmd).start();
    // Each job holds its grant for a moment, so that the jobs overlap and one may wait.
    try (Writer in = new OutputStreamWriter(p.getOutputStream(), StandardCharsets.UTF_8)) {
      in.write("info\nnvml\nalloc " + quota / 4 * 3 + "\nalloc " + quota / 2 * 3 + "\nsleep 1500\nexit 0\n");
    }
    return p;
  }

  private static List<String> readAll(Process p) throws IOException {
    List<String> lines = new ArrayList<>();
    try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
      for (String line; (line = r.readLine()) != null; ) lines.add(line);
    }
    return lines;
  }

  /** Shows what `gpupool run` says (e.g. that it waits) as it says it, and keeps it. */
  private static List<String> echoStderr(Process p, String job, PrintWriter out) {
    List<String> lines = new ArrayList<>();
    Thread t = new Thread(() -> {
      try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getErrorStream(), StandardCharsets.UTF_8))) {
        for (String line; (line = r.readLine()) != null; ) {
          synchronized (lines) {
            lines.add(line);
          }
          synchronized (out) {
            out.println("  [" + job + "] " + line);
            out.flush();
          }
        }
      } catch (IOException ignored) {
        // the job ended
      }
    }, "demo-stderr-" + job);
    t.setDaemon(true);
    t.start();
    return lines;
  }

  private static String field(List<String> lines, String prefix, String key) {
    for (String l : lines) {
      if (!l.startsWith(prefix)) continue;
      for (String part : l.split(" ")) if (part.startsWith(key)) return part.substring(key.length());
    }
    return null;
  }

  private static String result(List<String> lines, int nth) {
    int seen = 0;
    for (String l : lines) {
      if (l.startsWith("alloc ") && seen++ == nth) return l.substring(l.indexOf("-> ") + 3);
    }
    return "?";
  }

  private static Path findProbe(Path home) throws IOException {
    for (Path p : List.of(home.resolve("libexec/gpupool/job_probe"), home.resolve("tests/job_probe"))) {
      if (Files.isExecutable(p)) return p;
    }
    throw new IOException("the example job is missing: " + home.resolve("libexec/gpupool/job_probe")
        + " (build with `mvn -B -DskipTests package`)");
  }
}
