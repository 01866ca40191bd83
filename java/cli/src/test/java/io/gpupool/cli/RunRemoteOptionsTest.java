package io.gpupool.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** `gpupool run --remote` refuses addresses and trust files it cannot use, before running anything. */
class RunRemoteOptionsTest {
  @TempDir Path dir;

  /** `gpupool run OPTIONS --token T -- sh -c "touch DIR/ran"`. */
  private GpupoolRun run(String... options) {
    List<String> args = new ArrayList<>(List.of("run"));
    args.addAll(List.of(options));
    args.addAll(List.of("--token", "gpt_unused", "--", "/bin/sh", "-c", "touch " + dir.resolve("ran")));
    return GpupoolRun.of(args.toArray(String[]::new));
  }

  private void assertUsageError(GpupoolRun r, String expected) {
    assertEquals(2, r.exitCode(), r.err());
    assertTrue(r.err().contains(expected), r.err());
    assertFalse(Files.exists(dir.resolve("ran")), "the command did not run");
  }

  @Test
  void anAddressOfAnotherSchemeIsRefused() {
    assertUsageError(run("--remote", "https://gpunode:7070"), "is not HOST:PORT, gpupool://HOST[:PORT] or (TLS) gpupools://HOST[:PORT]");
    assertUsageError(run("--remote", "gpupools://gpunode:7070/x"), "is not HOST:PORT");
    assertUsageError(run("--remote", "gpunode"), "is not HOST:PORT");
  }

  @Test
  void trustIsForTls() throws Exception {
    Path pem = Files.writeString(dir.resolve("ca.pem"), "-----BEGIN CERTIFICATE-----\n");
    assertUsageError(run("--remote", "gpunode:7070", "--trust", pem.toString()), "--trust is for TLS");
    assertUsageError(run("--remote", "gpupool://gpunode:7070", "--trust", pem.toString()), "--trust is for TLS");
  }

  @Test
  void anUnreadableTrustFileIsNamed() {
    Path missing = dir.resolve("missing.pem");
    assertUsageError(run("--remote", "gpupools://gpunode", "--trust", missing.toString()), "--trust: cannot read " + missing);
  }
}
