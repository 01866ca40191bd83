package io.gpupool.bench;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;

/**
 * The baselines: a loopback TCP peer that echoes small messages (the round trip a remote call
 * cannot beat), or swallows a byte stream (the bandwidth a remote copy cannot beat). Blocking
 * sockets with TCP_NODELAY, as the client uses.
 */
final class LoopbackPingPong implements AutoCloseable {
  private final ServerSocket server;
  private final Socket client;
  private final DataOutputStream out;
  private final DataInputStream in;
  private final Thread peer;

  /**
   * {@code sink}: the peer reads into an array of {@code sinkBytes} (from its start again when
   * full), acknowledging each {@code ackEvery} bytes with one byte; otherwise it echoes.
   */
  LoopbackPingPong(boolean sink, int ackEvery, int sinkBytes) throws IOException {
    server = new ServerSocket(0, 1, InetAddress.getLoopbackAddress());
    peer = new Thread(() -> serve(sink, ackEvery, sinkBytes), "loopback-peer");
    peer.setDaemon(true);
    peer.start();
    client = new Socket(InetAddress.getLoopbackAddress(), server.getLocalPort());
    client.setTcpNoDelay(true);
    out = new DataOutputStream(client.getOutputStream());
    in = new DataInputStream(client.getInputStream());
  }

  private void serve(boolean sink, int ackEvery, int sinkBytes) {
    try (Socket s = server.accept()) {
      s.setTcpNoDelay(true);
      InputStream i = s.getInputStream();
      OutputStream o = s.getOutputStream();
      byte[] buf = new byte[sink ? sinkBytes : 1 << 20];
      if (sink) {
        long seen = 0;
        int at = 0;
        for (int n; (n = i.read(buf, at, Math.min(1 << 20, buf.length - at))) > 0; ) {
          at = (at + n) % buf.length;
          seen += n;
          while (seen >= ackEvery) {
            seen -= ackEvery;
            o.write(1);
            o.flush();
          }
        }
      } else {
        for (int n; (n = i.read(buf)) > 0; ) {
          o.write(buf, 0, n);
          o.flush();
        }
      }
    } catch (IOException ended) {
      // the benchmark closed the connection
    }
  }

  /** One round trip of {@code message}. */
  void pingPong(byte[] message) throws IOException {
    out.write(message);
    out.flush();
    in.readFully(new byte[message.length]);
  }

  /**
   * Sends {@code total} bytes of {@code source} (from its start again at its end) in
   * {@code chunk}-sized writes and waits for the peer's acknowledgement.
   */
  void stream(byte[] source, int chunk, long total) throws IOException {
    for (long sent = 0; sent < total; sent += chunk) out.write(source, (int) (sent % source.length), chunk);
    out.flush();
    if (in.read() != 1) throw new IOException("no acknowledgement");
  }

  @Override
  public void close() throws IOException {
    client.close();
    server.close();
  }
}
