package io.gpupool.client;

import static org.junit.jupiter.api.Assertions.*;

import com.google.protobuf.ByteString;
import io.gpupool.proto.v1.Hello;
import io.gpupool.proto.v1.Redirect;
import io.gpupool.proto.v1.ServerMessage;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyFactory;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.cert.Certificate;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.Base64;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLServerSocket;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * gpupools://: the address, the trust file, and TLS handshakes against a scripted agent and
 * worker serving a test certificate for localhost / 127.0.0.1 (src/test/resources/tls).
 */
class TlsTest {
  private static final byte[] SECRET = new byte[32];

  @TempDir Path dir;

  private static Path resource(String name) {
    try {
      return Path.of(TlsTest.class.getResource("/tls/" + name).toURI());
    } catch (URISyntaxException e) {
      throw new IllegalStateException(e);
    }
  }

  /** A TLS listener on loopback serving localhost-cert.pem. */
  private static ServerSocket tlsServer() throws Exception {
    String pem = Files.readString(resource("localhost-key.pem"), StandardCharsets.US_ASCII);
    byte[] der = Base64.getMimeDecoder().decode(pem.replaceAll("-----[A-Z ]+-----", ""));
    PrivateKey key = KeyFactory.getInstance("RSA").generatePrivate(new PKCS8EncodedKeySpec(der));
    KeyStore store = KeyStore.getInstance("PKCS12");
    store.load(null, null);
    store.setKeyEntry("server", key, new char[0],
        Tls.certificates(resource("localhost-cert.pem")).toArray(new Certificate[0]));
    KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
    kmf.init(store, new char[0]);
    SSLContext context = SSLContext.getInstance("TLS");
    context.init(kmf.getKeyManagers(), null, null);
    SSLServerSocket server = (SSLServerSocket) context.getServerSocketFactory()
        .createServerSocket(0, 10, InetAddress.getLoopbackAddress());
    return server;
  }

  @Test
  void addresses() {
    PoolUri plain = PoolUri.parse(URI.create("gpupool://gpu-node:7071?token=t"));
    assertFalse(plain.tls());
    assertNull(plain.trust());

    PoolUri tls = PoolUri.parse(URI.create("gpupools://gpu-node?token=t&trust=/etc/pool/ca.pem&memory=1GiB"));
    assertTrue(tls.tls());
    assertEquals("gpu-node", tls.host());
    assertEquals(PoolUri.DEFAULT_PORT, tls.port());
    assertEquals("t", tls.token());
    assertEquals(1L << 30, tls.memoryBytes());
    assertEquals(Path.of("/etc/pool/ca.pem"), tls.trust());

    PoolUri defaultTrust = PoolUri.parse(URI.create("gpupools://gpu-node:9000?token=t"));
    assertTrue(defaultTrust.tls());
    assertNull(defaultTrust.trust(), "no trust: the JVM's trust store");
    assertEquals(9000, defaultTrust.port());

    PoolUri escaped = PoolUri.parse(URI.create("gpupools://h?trust=%2Ftmp%2Fmy%20ca.pem"));
    assertEquals(Path.of("/tmp/my ca.pem"), escaped.trust());

    IllegalArgumentException notTls = assertThrows(IllegalArgumentException.class,
        () -> PoolUri.parse(URI.create("gpupool://h?token=secret&trust=/ca.pem")));
    assertTrue(notTls.getMessage().contains("gpupools://"), notTls.getMessage());
    assertFalse(notTls.getMessage().contains("secret"), "the token is never in a message");
    assertThrows(IllegalArgumentException.class, () -> PoolUri.parse(URI.create("gpupools://h?trust=")));
    IllegalArgumentException scheme = assertThrows(IllegalArgumentException.class,
        () -> PoolUri.parse(URI.create("https://h?token=secret")));
    assertTrue(scheme.getMessage().contains("gpupools://"), scheme.getMessage());
    assertFalse(scheme.getMessage().contains("secret"), "the token is never in a message");
  }

  @Test
  void trustFiles() throws Exception {
    assertEquals(1, Tls.certificates(resource("localhost-cert.pem")).size());
    assertEquals("CN=localhost", Tls.certificates(resource("localhost-cert.pem")).get(0)
        .getSubjectX500Principal().getName());
    Path both = dir.resolve("both.pem");
    Files.writeString(both, Files.readString(resource("localhost-cert.pem")) + Files.readString(resource("other-cert.pem")));
    assertEquals(2, Tls.certificates(both).size(), "a bundle: every certificate is trusted");
    assertNotNull(Tls.context(both));

    Path missing = dir.resolve("missing.pem");
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Tls.certificates(missing));
    assertTrue(e.getMessage().contains("cannot read the trust file " + missing), e.getMessage());
    Path key = resource("localhost-key.pem");
    e = assertThrows(IllegalArgumentException.class, () -> Tls.certificates(key));
    assertTrue(e.getMessage().contains(key.toString()), e.getMessage());
    Path empty = Files.writeString(dir.resolve("empty.pem"), "");
    e = assertThrows(IllegalArgumentException.class, () -> Tls.certificates(empty));
    assertTrue(e.getMessage().contains("no X.509 certificate") || e.getMessage().contains("no readable X.509"),
        e.getMessage());
    e = assertThrows(IllegalArgumentException.class,
        () -> GpuPool.connect("gpupools://localhost:1?token=secret&trust=" + missing), "checked at connect");
    assertFalse(e.getMessage().contains("secret"));
  }

  @Test
  void agentAndWorkerOverTlsVerifiedAsTheUrisHost() throws Exception {
    try (ScriptedPeer agent = new ScriptedPeer(tlsServer()); ScriptedPeer worker = new ScriptedPeer(tlsServer())) {
      CompletableFuture<Hello> hello = new CompletableFuture<>();
      CompletableFuture<Void> agentScript = agent.serve(conn -> {
        hello.complete(conn.read().getHello());
        // As the real agent: the worker by IP; its certificate is checked as "localhost".
        conn.send(ServerMessage.newBuilder().setRedirect(Redirect.newBuilder().setHost("127.0.0.1")
            .setPort(worker.port()).setSecret(ByteString.copyFrom(SECRET)).setJobId(3)).build());
        assertNull(conn.read());
      });
      CompletableFuture<Void> workerScript = worker.serve(conn -> {
        assertArrayEquals(SECRET, conn.welcome());
        assertNull(conn.read());
      });
      GpuPool pool = GpuPool.connect("gpupools://localhost:" + agent.port() + "?token=tls-token&trust="
          + resource("localhost-cert.pem"));
      try (RemoteGpu gpu = pool.acquire()) {
        assertEquals("scripted GPU", gpu.device().name());
      }
      assertEquals("tls-token", hello.get(20, TimeUnit.SECONDS).getToken());
      agentScript.get(20, TimeUnit.SECONDS);
      workerScript.get(20, TimeUnit.SECONDS);
    }
  }

  @Test
  void aCertificateThatDoesNotVerifyIsAClearError() throws Exception {
    try (ServerSocket server = tlsServer()) {
      int port = server.getLocalPort();
      Thread acceptor = acceptAndHandshake(server, 3);

      // Trusting another certificate.
      GpuPool other = GpuPool.connect("gpupools://localhost:" + port + "?token=t&trust=" + resource("other-cert.pem"));
      PoolUnavailableException e = assertThrows(PoolUnavailableException.class, other::acquire);
      assertTrue(e.getMessage().contains("the agent at localhost:" + port), e.getMessage());
      assertTrue(e.getMessage().contains("certificate does not verify"), e.getMessage());

      // The JVM's trust store does not know a self-signed certificate.
      GpuPool jvm = GpuPool.connect("gpupools://localhost:" + port + "?token=t");
      e = assertThrows(PoolUnavailableException.class, jvm::acquire);
      assertTrue(e.getMessage().contains("certificate does not verify"), e.getMessage());
      assertTrue(e.getMessage().contains("JVM's trust store"), e.getMessage());

      // The right certificate under a name it does not carry.
      Tls wrongName = Tls.forHost("gpu-node.example", resource("localhost-cert.pem"));
      Socket socket = new Socket(InetAddress.getLoopbackAddress(), port);
      e = assertThrows(PoolUnavailableException.class, () -> wrongName.handshake(socket, "the agent"));
      assertTrue(e.getMessage().contains("does not verify for 'gpu-node.example'"), e.getMessage());
      assertTrue(socket.isClosed(), "a failed handshake closes the socket");
      acceptor.join(20_000);
    }
  }

  @Test
  void tlsToAPlainListenerFailsClearly() throws Exception {
    try (ServerSocket plain = new ServerSocket(0, 10, InetAddress.getLoopbackAddress())) {
      Thread acceptor = new Thread(() -> {
        try (Socket s = plain.accept()) {
          s.getInputStream().read(new byte[64]);
          s.getOutputStream().write(new byte[] {5, 0x42, 0, 0, 0, 0}); // a frame, not TLS
        } catch (IOException e) {
          // the client gave up
        }
      });
      acceptor.start();
      GpuPool pool = GpuPool.connect("gpupools://127.0.0.1:" + plain.getLocalPort() + "?token=t&trust="
          + resource("localhost-cert.pem"));
      PoolUnavailableException e = assertThrows(PoolUnavailableException.class, pool::acquire);
      assertTrue(e.getMessage().startsWith("TLS handshake with the agent at 127.0.0.1:" + plain.getLocalPort()),
          e.getMessage());
      acceptor.join(20_000);
    }
  }

  private static Thread acceptAndHandshake(ServerSocket server, int connections) {
    Thread t = new Thread(() -> {
      for (int i = 0; i < connections; i++) {
        try (Socket s = server.accept()) {
          s.getInputStream().read();
        } catch (IOException e) {
          // the client refused the certificate
        }
      }
    });
    t.setDaemon(true);
    t.start();
    return t;
  }
}
