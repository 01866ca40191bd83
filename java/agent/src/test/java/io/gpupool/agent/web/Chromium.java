package io.gpupool.agent.web;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * Debian's headless Chromium, run once per call with a fresh profile, for tests of what the
 * page's script renders. A missing browser fails the test (it is part of the build
 * environment: {@code apt-get install chromium}); it never skips silently.
 */
final class Chromium {

  static final Path BINARY = Path.of("/usr/bin/chromium");
  static final long TIMEOUT_S = 60;

  private Chromium() {}

  /** The DOM after the page's script ran for 5 s of virtual time. */
  static String dumpDom(String url) throws Exception {
    return run(List.of("--virtual-time-budget=5000", "--dump-dom", url));
  }

  /** A PNG of the page at 1280×900 after 5 s of virtual time. */
  static void screenshot(String url, Path png) throws Exception {
    Files.createDirectories(png.getParent());
    Files.deleteIfExists(png);
    run(List.of("--virtual-time-budget=5000", "--hide-scrollbars", "--window-size=1280,900",
        "--screenshot=" + png.toAbsolutePath(), url));
    assertTrue(Files.exists(png), "chromium wrote no screenshot to " + png);
  }

  private static String run(List<String> args) throws Exception {
    if (!Files.isExecutable(BINARY)) {
      fail(BINARY + " is missing: the status page test needs Debian's Chromium; install it with"
          + " `sudo apt-get install -y chromium`");
    }
    Path profile = Files.createTempDirectory("gpupool-chromium-");
    Path out = profile.resolve("stdout.txt");
    Path err = profile.resolve("stderr.txt");
    List<String> command = new ArrayList<>(List.of(BINARY.toString(), "--headless",
        "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--user-data-dir=" + profile.resolve("profile")));
    command.addAll(args);
    Process p = new ProcessBuilder(command)
        .redirectOutput(out.toFile()).redirectError(err.toFile()).start();
    try {
      if (!p.waitFor(TIMEOUT_S, TimeUnit.SECONDS)) {
        fail("chromium did not finish within " + TIMEOUT_S + " s: " + command + "\n" + tail(err));
      }
      assertEquals(0, p.exitValue(), "chromium failed: " + command + "\n" + tail(err));
      return Files.readString(out, StandardCharsets.UTF_8);
    } finally {
      p.descendants().forEach(ProcessHandle::destroyForcibly);
      p.destroyForcibly();
      p.waitFor(10, TimeUnit.SECONDS);
      deleteTree(profile);
    }
  }

  private static String tail(Path file) throws IOException {
    String s = Files.exists(file) ? Files.readString(file, StandardCharsets.UTF_8) : "";
    return s.length() > 4000 ? s.substring(s.length() - 4000) : s;
  }

  private static void deleteTree(Path root) {
    try (Stream<Path> paths = Files.walk(root)) {
      paths.sorted(Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
    } catch (IOException e) {
      // a temp dir left behind is not worth failing a test for
    }
  }
}
