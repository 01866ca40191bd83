package io.gpupool.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Debian's Chromium, headless, with a fresh profile and no background networking (the machine
 * has no internet): the rendered DOM of a page after its scripts ran, or a screenshot. (The
 * agent module's page test has its own copy; test classes do not cross modules.)
 */
final class HeadlessChromium {
  static final Path BINARY = Path.of("/usr/bin/chromium");

  private HeadlessChromium() {}

  static String dumpDom(String url) throws Exception {
    return run(List.of("--virtual-time-budget=5000", "--dump-dom", url));
  }

  static void screenshot(String url, Path png) throws Exception {
    Files.createDirectories(png.getParent());
    run(List.of("--virtual-time-budget=5000", "--window-size=1280,900", "--screenshot=" + png.toAbsolutePath(), url));
  }

  private static String run(List<String> args) throws Exception {
    if (!Files.isExecutable(BINARY)) fail(BINARY + " is missing: install Debian's chromium (apt-get install chromium)");
    Path profile = Files.createTempDirectory("gpupool-chromium-");
    List<String> command = new ArrayList<>(List.of(BINARY.toString(), "--headless", "--no-sandbox", "--disable-gpu",
        "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--user-data-dir=" + profile.resolve("profile")));
    command.addAll(args);
    Path out = profile.resolve("out.txt");
    Process p = new ProcessBuilder(command).redirectOutput(out.toFile())
        .redirectError(profile.resolve("err.txt").toFile()).start();
    try {
      if (!p.waitFor(60, TimeUnit.SECONDS)) fail("chromium did not finish within 60 s: " + command);
      assertEquals(0, p.exitValue(), "chromium failed: " + command);
      return Files.readString(out, StandardCharsets.UTF_8);
    } finally {
      p.descendants().forEach(ProcessHandle::destroyForcibly);
      p.destroyForcibly();
      try (var files = Files.walk(profile)) {
        files.sorted(Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
      }
    }
  }
}
