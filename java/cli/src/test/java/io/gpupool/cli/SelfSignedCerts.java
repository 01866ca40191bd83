package io.gpupool.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** Self-signed certificates for the TLS tests, made by the openssl command in a test's directory. */
final class SelfSignedCerts {
  private final Path dir;

  SelfSignedCerts(Path dir) {
    this.dir = dir;
  }

  private static String openssl() {
    for (String candidate : List.of("/usr/bin/openssl", "/usr/local/bin/openssl")) {
      if (Files.isExecutable(Path.of(candidate))) return candidate;
    }
    throw new AssertionError("openssl is missing: the TLS tests make their certificates with it"
        + " (apt-get install openssl; .ci/run installs it)");
  }

  private void openssl(String... args) throws IOException, InterruptedException {
    List<String> cmd = new ArrayList<>();
    cmd.add(openssl());
    cmd.addAll(List.of(args));
    Process p = new ProcessBuilder(cmd).directory(dir.toFile()).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertTrue(p.waitFor(60, TimeUnit.SECONDS), "openssl " + String.join(" ", args) + " hangs");
    assertEquals(0, p.exitValue(), "openssl " + String.join(" ", args) + ": " + out);
  }

  /**
   * A self-signed certificate for {@code cn} with these subject alternative names (e.g.
   * "DNS:localhost,IP:127.0.0.1"); returns the certificate's path NAME-cert.pem. Its key is
   * {@link #key}(NAME), PKCS#8 as Netty reads it.
   */
  Path make(String name, String cn, String subjectAltName) throws Exception {
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", name + "-key.raw.pem",
        "-out", name + "-cert.pem", "-days", "2", "-subj", "/CN=" + cn, "-addext", "subjectAltName=" + subjectAltName);
    // Netty reads PKCS#8 keys; older openssl writes PKCS#1 from req.
    openssl("pkcs8", "-topk8", "-nocrypt", "-in", name + "-key.raw.pem", "-out", name + "-key.pem");
    return dir.resolve(name + "-cert.pem");
  }

  Path key(String name) {
    return dir.resolve(name + "-key.pem");
  }
}
