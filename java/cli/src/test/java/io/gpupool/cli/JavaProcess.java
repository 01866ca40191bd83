package io.gpupool.cli;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

/**
 * A `gpupool` command in its own JVM (the class path of the tests), as a user would run it: its
 * stdout and stderr are read line by line into queues, its stdin can be written.
 */
final class JavaProcess implements AutoCloseable {
  static final Duration PATIENCE = Duration.ofSeconds(60);

  final Process process;
  private final BlockingQueue<String> out = new LinkedBlockingQueue<>();
  private final BlockingQueue<String> err = new LinkedBlockingQueue<>();
  private final List<String> errSeen = new ArrayList<>();
  private final Writer stdin;

  private JavaProcess(Process process) {
    this.process = process;
    pump(process.getInputStream(), out, "out");
    pump(process.getErrorStream(), err, "err");
    this.stdin = new OutputStreamWriter(process.getOutputStream(), StandardCharsets.UTF_8);
  }

  /** `gpupool ARGS` with gpupool.home = the native build tree (its lib/ has the shim and the sim). */
  static JavaProcess gpupool(List<String> args) throws IOException {
    return gpupool(args, java.util.Map.of());
  }

  /** The same, with these variables added to (or replacing those of) the test's environment. */
  static JavaProcess gpupool(List<String> args, java.util.Map<String, String> env) throws IOException {
    return java("io.gpupool.cli.Main", args, env);
  }

  /** {@code mainClass ARGS} on the tests' class path, gpupool.home as for {@link #gpupool}. */
  static JavaProcess java(String mainClass, List<String> args, java.util.Map<String, String> env) throws IOException {
    List<String> cmd = new ArrayList<>();
    cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    cmd.add("-Dgpupool.home=" + nativeBuild());
    cmd.add("-cp");
    cmd.add(System.getProperty("surefire.test.class.path", System.getProperty("java.class.path")));
    cmd.add(mainClass);
    cmd.addAll(args);
    return command(cmd, env);
  }

  /** Any program, with these variables added to (or replacing those of) the test's environment. */
  static JavaProcess command(List<String> cmd, java.util.Map<String, String> env) throws IOException {
    ProcessBuilder pb = new ProcessBuilder(cmd);
    pb.environment().remove("GPUPOOL_SOCKET");
    pb.environment().putAll(env);
    return new JavaProcess(pb.start());
  }

  static Path nativeBuild() {
    String dir = System.getProperty("gpupool.test.native.build");
    if (dir == null) throw new IllegalStateException("gpupool.test.native.build is not set (run through Maven)");
    return Path.of(dir);
  }

  static Path jobProbe() {
    return nativeBuild().resolve("tests/job_probe");
  }

  static Path spinJob() {
    return nativeBuild().resolve("tests/spin_job");
  }

  private static void pump(InputStream in, BlockingQueue<String> lines, String name) {
    Thread t = new Thread(() -> {
      try (BufferedReader r = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8))) {
        for (String line; (line = r.readLine()) != null; ) lines.add(line);
      } catch (IOException ignored) {
        // the process ended
      }
    }, "pump-" + name);
    t.setDaemon(true);
    t.start();
  }

  void send(String line) throws IOException {
    stdin.write(line + "\n");
    stdin.flush();
  }

  /** The next stdout line. */
  String nextOut() throws InterruptedException {
    long deadline = System.nanoTime() + PATIENCE.toNanos();
    while (System.nanoTime() < deadline) {
      String line = out.poll(200, TimeUnit.MILLISECONDS);
      if (line != null) return line;
      if (!process.isAlive()) {
        line = out.poll(500, TimeUnit.MILLISECONDS); // what the pump had not handed over yet
        if (line != null) return line;
        throw new AssertionError("exited (" + process.exitValue() + ") without that output; stderr: " + drainErr());
      }
    }
    throw new AssertionError("no output within " + PATIENCE + "; stderr: " + drainErr());
  }

  /** The stdout lines that came so far and were not read yet (does not wait). */
  List<String> drainOut() {
    List<String> lines = new ArrayList<>();
    out.drainTo(lines);
    return lines;
  }

  /** Skips stdout lines until one matches. */
  String awaitOut(Predicate<String> match) throws InterruptedException {
    for (;;) {
      String line = nextOut();
      if (match.test(line)) return line;
    }
  }

  /** Waits for a stderr line that matches. */
  String awaitErr(Predicate<String> match) throws InterruptedException {
    long deadline = System.nanoTime() + PATIENCE.toNanos();
    while (System.nanoTime() < deadline) {
      String line = err.poll(1, TimeUnit.SECONDS);
      if (line == null) continue;
      errSeen.add(line);
      if (match.test(line)) return line;
    }
    throw new AssertionError("no matching stderr line within " + PATIENCE + "; seen: " + errSeen);
  }

  String drainErr() {
    List<String> rest = new ArrayList<>();
    err.drainTo(rest);
    errSeen.addAll(rest);
    return String.join("\n", errSeen);
  }

  int waitFor() throws InterruptedException {
    if (!process.waitFor(PATIENCE.toSeconds(), TimeUnit.SECONDS)) {
      throw new AssertionError("still running after " + PATIENCE + "; stderr: " + drainErr());
    }
    return process.exitValue();
  }

  @Override
  public void close() {
    process.descendants().forEach(ProcessHandle::destroyForcibly);
    process.destroyForcibly();
  }
}
