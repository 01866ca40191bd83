package io.gpupool.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The native forwarding driver over TLS end to end: `gpupool agent --listen --tls-cert --tls-key`
 * with a self-signed certificate for "localhost" (DNS name only), and native programs run by
 * `gpupool run --remote gpupools://localhost:PORT --trust cert.pem`. The agent redirects each
 * session to its worker, which only accepts TLS with the agent's certificate: a program that
 * passes went over TLS to both, each certificate verified against "localhost".
 */
class NativeRemoteTlsEndToEndTest {
  private static final long MIB = 1L << 20;

  @TempDir Path dir;
  private RemoteAgent agent;
  private Path cert;
  private Path key;
  private int port;
  private String token;

  @BeforeEach
  void startAgent() throws Exception {
    SelfSignedCerts certs = new SelfSignedCerts(dir);
    cert = certs.make("localhost", "localhost", "DNS:localhost");
    key = certs.key("localhost");
    agent = RemoteAgent.start(dir, "native-tls", cert, key);
    port = agent.port;
    token = agent.token;
  }

  @AfterEach
  void stop() throws Exception {
    agent.close();
  }

  /** `gpupool run --remote REMOTE [--trust TRUST] -- CMD` with these variables added. */
  private JavaProcess runRemote(String remote, Path trust, Map<String, String> env, String... cmd) throws Exception {
    List<String> args = new ArrayList<>(List.of("run", "--remote", remote, "--token", token, "--memory", "512MiB"));
    if (trust != null) args.addAll(List.of("--trust", trust.toString()));
    args.add("--");
    args.addAll(List.of(cmd));
    JavaProcess p = JavaProcess.gpupool(args, env);
    agent.track(p);
    return p;
  }

  @ParameterizedTest
  @ValueSource(strings = {"test_module_launch", "test_memcpy", "test_stream_event"})
  void foundationProgramPassesOverTls(String program) throws Exception {
    Path exe = JavaProcess.nativeBuild().resolve("tests").resolve(program);
    JavaProcess p = runRemote("gpupools://localhost:" + port, cert,
        Map.of("GPUPOOL_KERNELS_DIR", JavaProcess.nativeBuild().resolve("kernels").toString(),
            "GPUPOOL_TEST_REMOTE_DEVICE", "1"),
        exe.toString());
    int code = p.waitFor();
    assertEquals(0, code, program + " over TLS:\n" + String.join("\n", p.drainOut()) + "\n" + p.drainErr());
    agent.awaitRunningJobs(0);
  }

  @Test
  void aSessionOverTlsHasItsQuotaOnItsWorker() throws Exception {
    JavaProcess job = runRemote("gpupools://localhost:" + port, cert, Map.of(), JavaProcess.jobProbe().toString());
    job.send("info");
    assertEquals("info devices=1 total=" + 512 * MIB + " free=" + 512 * MIB + " rc=CUDA_SUCCESS", job.nextOut());
    job.send("alloc " + 768 * MIB);
    assertEquals("alloc " + 768 * MIB + " -> CUDA_ERROR_OUT_OF_MEMORY", job.nextOut());
    job.send("alloc " + 256 * MIB);
    assertEquals("alloc " + 256 * MIB + " -> CUDA_SUCCESS", job.nextOut());
    assertEquals(1, agent.runningJobs());
    job.send("exit 3");
    assertEquals(3, job.waitFor());
    agent.awaitRunningJobs(0);
  }

  /** The probe's cuInit failed (exit 2, "init -> ERROR") with a stderr line containing `expected`. */
  private String refused(JavaProcess job, String expected) throws Exception {
    String line = job.awaitErr(l -> l.contains(expected));
    assertTrue(job.nextOut().startsWith("init -> CUDA_ERROR_"), "cuInit failed");
    assertEquals(2, job.waitFor());
    assertFalse(job.drainErr().contains(token), "the token is not printed");
    assertEquals(0, agent.runningJobs(), "no session was admitted");
    return line;
  }

  @Test
  void aCertificateNotTrustedIsRefusedBeforeAnyWork() throws Exception {
    Path other = new SelfSignedCerts(dir).make("other", "localhost", "DNS:localhost");
    JavaProcess job = runRemote("gpupools://localhost:" + port, other, Map.of(), JavaProcess.jobProbe().toString());
    String line = refused(job, "TLS handshake with the agent at localhost:" + port + " failed");
    assertTrue(line.contains("certificate does not verify for 'localhost' against GPUPOOL_REMOTE_TRUST=" + other), line);
  }

  @Test
  void theCertificateMustNameTheHost() throws Exception {
    // Trusted, but issued to "localhost" only: 127.0.0.1 is not a name it carries.
    JavaProcess job = runRemote("gpupools://127.0.0.1:" + port, cert, Map.of(), JavaProcess.jobProbe().toString());
    String line = refused(job, "TLS handshake with the agent at 127.0.0.1:" + port + " failed");
    assertTrue(line.contains("does not verify for '127.0.0.1'"), line);
    assertTrue(line.contains("mismatch"), line);
  }

  @Test
  void aPlainClientFailsClearlyAgainstTheTlsAgent() throws Exception {
    JavaProcess job = runRemote("127.0.0.1:" + port, null, Map.of(), JavaProcess.jobProbe().toString());
    String line = refused(job, "the agent at 127.0.0.1:" + port);
    assertTrue(line.contains("if it serves TLS, set GPUPOOL_REMOTE=gpupools://"), line);
  }

  /**
   * Without an agent: a worker started with the certificate, and the program attached to it
   * straight with GPUPOOL_REMOTE_WORKER=gpupools://localhost:PORT and the worker's secret
   * (README: "attach to a worker directly"). A plain attach to the same kind of worker is refused.
   */
  @Test
  void aProgramAttachesStraightToATlsWorker() throws Exception {
    Path exe = JavaProcess.nativeBuild().resolve("tests").resolve("test_memcpy");
    JavaProcess p = JavaProcess.command(List.of(exe.toString()), attachEnv(startTlsWorker(), "gpupools://"));
    assertEquals(0, p.waitFor(), "test_memcpy straight to a TLS worker:\n" + String.join("\n", p.drainOut()) + "\n"
        + p.drainErr());

    JavaProcess plain = JavaProcess.command(List.of(JavaProcess.jobProbe().toString()),
        attachEnv(startTlsWorker(), "gpupool://"));
    assertTrue(plain.waitFor() != 0, "a plain attach to a TLS worker must fail");
  }

  private String[] startTlsWorker() throws Exception {
    byte[] seed = new byte[32];
    new java.security.SecureRandom().nextBytes(seed);
    String secret = java.util.HexFormat.of().formatHex(seed);
    JavaProcess worker = JavaProcess.java("io.gpupool.remote.WorkerMain",
        List.of("--bind", "127.0.0.1", "--tls-cert", cert.toString(), "--tls-key", key.toString()),
        Map.of("GPUPOOL_WORKER_SECRET", secret,
            "LD_LIBRARY_PATH", JavaProcess.nativeBuild().resolve("lib").resolve("sim").toString()));
    agent.track(worker);
    String line = worker.nextOut();
    assertTrue(line.startsWith("gpupool-worker listening "), line);
    String address = line.substring("gpupool-worker listening ".length());
    return new String[] {address.substring(address.lastIndexOf(':') + 1), secret};
  }

  private Map<String, String> attachEnv(String[] worker, String scheme) {
    return Map.of("LD_LIBRARY_PATH", JavaProcess.nativeBuild().resolve("lib").resolve("remote").toString(),
        "GPUPOOL_REMOTE_WORKER", scheme + "localhost:" + worker[0], "GPUPOOL_REMOTE_SECRET", worker[1],
        "GPUPOOL_REMOTE_TRUST", cert.toString(),
        "GPUPOOL_KERNELS_DIR", JavaProcess.nativeBuild().resolve("kernels").toString(),
        "GPUPOOL_TEST_REMOTE_DEVICE", "1");
  }

  @Test
  void anUnreadableOrEmptyTrustFileIsNamed() throws Exception {
    Path missing = dir.resolve("missing.pem");
    JavaProcess job = runRemote("gpupools://localhost:" + port, null, Map.of("GPUPOOL_REMOTE_TRUST", missing.toString()),
        JavaProcess.jobProbe().toString());
    String line = refused(job, "GPUPOOL_REMOTE_TRUST=" + missing);
    assertTrue(line.contains("cannot read the trust file: No such file or directory"), line);

    Path empty = Files.writeString(dir.resolve("empty.pem"), "not a certificate\n");
    job = runRemote("gpupools://localhost:" + port, empty, Map.of(), JavaProcess.jobProbe().toString());
    line = refused(job, "GPUPOOL_REMOTE_TRUST=" + empty);
    assertTrue(line.contains("holds no readable certificate"), line);
  }
}
