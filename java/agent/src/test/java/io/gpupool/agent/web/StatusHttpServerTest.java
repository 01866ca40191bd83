package io.gpupool.agent.web;

import static java.nio.charset.StandardCharsets.US_ASCII;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.util.JsonFormat;
import io.gpupool.proto.v1.JobUsage;
import io.gpupool.proto.v1.Report;
import io.gpupool.proto.v1.Status;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.nio.NioIoHandler;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.ConnectException;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The HTTP server on a free port, through java.net.http and raw sockets. */
class StatusHttpServerTest {

  private final AtomicLong lastSince = new AtomicLong(-1);
  private final AtomicBoolean failStatus = new AtomicBoolean();
  private final HttpClient client = HttpClient.newBuilder()
      .version(HttpClient.Version.HTTP_1_1).connectTimeout(Duration.ofSeconds(5)).build();
  private StatusHttpServer server;

  @BeforeEach
  void start() throws IOException {
    server = new StatusHttpServer("127.0.0.1", 0, () -> {
      if (failStatus.get()) {
        throw new IllegalStateException("status exploded");
      }
      return Fixtures.status();
    }, since -> {
      lastSince.set(since);
      return Report.newBuilder().setSinceUnixMs(since).setUntilUnixMs(since + 1000)
          .addJobs(JobUsage.newBuilder().setJobId(9).setName("n").setTeam("t")
              .setGrantedByteSeconds(3600.0 * (1L << 30)))
          .build();
    });
  }

  @AfterEach
  void stop() {
    server.close();
  }

  private HttpResponse<String> send(String method, String path) throws Exception {
    HttpRequest request = HttpRequest.newBuilder(uri(path)).timeout(Duration.ofSeconds(10))
        .method(method, HttpRequest.BodyPublishers.noBody()).build();
    return client.send(request, HttpResponse.BodyHandlers.ofString());
  }

  private URI uri(String path) {
    return URI.create("http://127.0.0.1:" + server.address().getPort() + path);
  }

  @Test
  void bindsAFreePort() {
    assertTrue(server.address().getPort() > 0);
    assertEquals("127.0.0.1", server.address().getAddress().getHostAddress());
  }

  @Test
  void servesThePage() throws Exception {
    HttpResponse<String> r = send("GET", "/");
    assertEquals(200, r.statusCode());
    assertEquals("text/html; charset=utf-8", r.headers().firstValue("content-type").orElseThrow());
    assertTrue(r.body().contains("<title>gpupool status</title>"));
    assertFalse(r.body().contains("http://") || r.body().contains("https://"),
        "the page must not load anything from elsewhere");
  }

  @Test
  void statusAsJson() throws Exception {
    HttpResponse<String> r = send("GET", "/api/status");
    assertEquals(200, r.statusCode());
    assertTrue(r.headers().firstValue("content-type").orElseThrow().startsWith("application/json"));
    Status.Builder parsed = Status.newBuilder();
    JsonFormat.parser().merge(r.body(), parsed);
    assertEquals(Fixtures.status(), parsed.build());
    // zeros printed too: the page never guesses what an absent field means
    assertTrue(r.body().contains("\"grantedBytes\": \"0\""), r.body());
  }

  @Test
  void reportSinceDurationOrUnixMs() throws Exception {
    long before = System.currentTimeMillis();
    HttpResponse<String> r = send("GET", "/api/report?since=7d");
    assertEquals(200, r.statusCode(), r.body());
    long want = before - 7 * 86_400_000L;
    assertTrue(lastSince.get() >= want && lastSince.get() <= want + 10_000, "" + lastSince.get());
    Report.Builder parsed = Report.newBuilder();
    JsonFormat.parser().merge(r.body(), parsed);
    assertEquals(lastSince.get(), parsed.getSinceUnixMs());
    assertEquals(9, parsed.getJobs(0).getJobId());

    assertEquals(200, send("GET", "/api/report?since=1700000000000").statusCode());
    assertEquals(1_700_000_000_000L, lastSince.get());
    assertEquals(200, send("GET", "/api/report?since=30m").statusCode());
    assertTrue(Math.abs(System.currentTimeMillis() - 1_800_000 - lastSince.get()) < 10_000);

    HttpResponse<String> csv = send("GET", "/api/report?since=12h&format=csv");
    assertEquals(200, csv.statusCode());
    assertTrue(csv.headers().firstValue("content-type").orElseThrow().startsWith("text/csv"));
    assertTrue(csv.body().startsWith("kind,job_id,name,team,"), csv.body());
    assertTrue(csv.body().contains("job,9,n,t,"), csv.body());
    HttpResponse<String> html = send("GET", "/api/report?format=html");
    assertTrue(html.body().contains("<svg"), html.body());
  }

  @Test
  void badSinceIs400WithAMessage() throws Exception {
    lastSince.set(-1);
    for (String bad : new String[] {"yesterday", "7x", "-5", "", "7%20d%20ago"}) {
      HttpResponse<String> r = send("GET", "/api/report?since=" + bad);
      assertEquals(400, r.statusCode(), bad + ": " + r.body());
      assertTrue(r.body().contains("since") || r.body().contains("query"), r.body());
    }
    assertEquals(-1, lastSince.get(), "no report is made for a bad request");
    assertEquals(400, send("GET", "/api/report?format=xml").statusCode());
  }

  @Test
  void metricsInTextFormat() throws Exception {
    HttpResponse<String> r = send("GET", "/metrics");
    assertEquals(200, r.statusCode());
    assertEquals(server.metrics().contentType(),
        r.headers().firstValue("content-type").orElseThrow());
    assertEquals(2.0, MetricsExporterTest.parse(r.body()).get("gpupool_jobs_running{}"));
  }

  @Test
  void unknownPathIs404AndOtherMethods405() throws Exception {
    assertEquals(404, send("GET", "/nope").statusCode());
    assertEquals(404, send("GET", "/api/status/x").statusCode());
    for (String m : new String[] {"POST", "PUT", "DELETE", "OPTIONS"}) {
      HttpResponse<String> r = send(m, "/api/status");
      assertEquals(405, r.statusCode(), m);
      assertEquals("GET, HEAD", r.headers().firstValue("allow").orElseThrow());
    }
  }

  @Test
  void headHasHeadersButNoBody() throws Exception {
    HttpResponse<String> r = send("HEAD", "/api/status");
    assertEquals(200, r.statusCode());
    assertEquals("", r.body());
    long length = Long.parseLong(r.headers().firstValue("content-length").orElseThrow());
    assertEquals(send("GET", "/api/status").body().getBytes().length, length);
  }

  @Test
  void aFailingRouteIs500AndTheServerLivesOn() throws Exception {
    failStatus.set(true);
    HttpResponse<String> r = send("GET", "/api/status");
    assertEquals(500, r.statusCode());
    assertTrue(r.body().contains("status exploded"), r.body());
    assertEquals(500, send("GET", "/metrics").statusCode());
    failStatus.set(false);
    assertEquals(200, send("GET", "/api/status").statusCode());
  }

  @Test
  void malformedRequestsDoNotKillTheServer() throws Exception {
    assertTrue(raw("THIS IS NOT HTTP AT ALL\r\n\r\n").startsWith("HTTP/1.1 400"));
    String junk = raw("\u0000\u0001\u0002garbage \u00ff\r\n\r\n");
    assertTrue(junk.isEmpty() || junk.startsWith("HTTP/1.1 400"), junk);
    assertTrue(raw("GET /%zz HTTP/1.1\r\nHost: x\r\n\r\n").startsWith("HTTP/1.1 400"));
    assertTrue(raw("GET /api/report?since=%ZZ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .startsWith("HTTP/1.1 400"));
    // larger than the 64 KiB aggregation limit: refused before any body is read
    assertTrue(raw("GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n")
        .startsWith("HTTP/1.1 413"));
    assertEquals(200, send("GET", "/api/status").statusCode());
  }

  @Test
  void keepAliveServesSeveralRequestsOnOneConnection() throws Exception {
    try (Socket s = new Socket("127.0.0.1", server.address().getPort())) {
      s.setSoTimeout(5000);
      OutputStream out = s.getOutputStream();
      InputStream in = s.getInputStream();
      for (int i = 0; i < 3; i++) {
        out.write("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n".getBytes(US_ASCII));
        out.flush();
        String head = readHead(in);
        assertTrue(head.startsWith("HTTP/1.1 200"), head);
        in.readNBytes(contentLength(head));
      }
      out.write("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".getBytes(US_ASCII));
      out.flush();
      String head = readHead(in);
      assertTrue(head.toLowerCase().contains("connection: close"), head);
      in.readNBytes(contentLength(head));
      assertEquals(-1, in.read(), "closed after Connection: close");
    }
  }

  @Test
  void sharesAGivenGroupAndLeavesItOpen() throws Exception {
    EventLoopGroup nio = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
    try (StatusHttpServer s = new StatusHttpServer("127.0.0.1", 0, Fixtures::status,
        since -> Report.getDefaultInstance(), nio)) {
      assertEquals(200, client.send(HttpRequest.newBuilder(URI.create(
          "http://127.0.0.1:" + s.address().getPort() + "/api/status")).build(),
          HttpResponse.BodyHandlers.ofString()).statusCode());
    }
    assertFalse(nio.isShuttingDown());
    nio.shutdownGracefully(0, 1, java.util.concurrent.TimeUnit.SECONDS).sync();

    if (Epoll.isAvailable()) {
      EventLoopGroup epoll = new MultiThreadIoEventLoopGroup(1, EpollIoHandler.newFactory());
      try (StatusHttpServer s = new StatusHttpServer("127.0.0.1", 0, Fixtures::status,
          since -> Report.getDefaultInstance(), epoll)) {
        assertEquals(200, client.send(HttpRequest.newBuilder(URI.create(
            "http://127.0.0.1:" + s.address().getPort() + "/metrics")).build(),
            HttpResponse.BodyHandlers.ofString()).statusCode());
      } finally {
        epoll.shutdownGracefully(0, 1, java.util.concurrent.TimeUnit.SECONDS).sync();
      }
    }
  }

  @Test
  void closeStopsListening() throws Exception {
    int port = server.address().getPort();
    server.close();
    assertThrows(ConnectException.class, () -> new Socket("127.0.0.1", port).close());
    server.close(); // idempotent
    IOException e = assertThrows(IOException.class, () -> {
      try (StatusHttpServer a = new StatusHttpServer("127.0.0.1", 0, Fixtures::status,
          since -> Report.getDefaultInstance())) {
        new StatusHttpServer("127.0.0.1", a.address().getPort(), Fixtures::status,
            since -> Report.getDefaultInstance()).close();
      }
    });
    assertTrue(e.getMessage().contains("cannot bind"), e.getMessage());
  }

  /** Sends raw bytes, returns the response (head and body), or "" if the server just closes. */
  private String raw(String request) throws IOException {
    try (Socket s = new Socket("127.0.0.1", server.address().getPort())) {
      s.setSoTimeout(5000);
      s.getOutputStream().write(request.getBytes(java.nio.charset.StandardCharsets.ISO_8859_1));
      s.getOutputStream().flush();
      InputStream in = s.getInputStream();
      String head;
      try {
        head = readHead(in);
      } catch (IOException closed) {
        return "";
      }
      return head + new String(in.readNBytes(contentLength(head)), US_ASCII);
    }
  }

  private static String readHead(InputStream in) throws IOException {
    StringBuilder b = new StringBuilder();
    while (!b.toString().endsWith("\r\n\r\n")) {
      int c = in.read();
      if (c < 0) {
        throw new IOException("closed after: " + b);
      }
      b.append((char) c);
    }
    return b.toString();
  }

  private static int contentLength(String head) {
    for (String line : head.split("\r\n")) {
      if (line.toLowerCase().startsWith("content-length:")) {
        return Integer.parseInt(line.substring(15).trim());
      }
    }
    throw new AssertionError("no content-length in " + head);
  }
}
