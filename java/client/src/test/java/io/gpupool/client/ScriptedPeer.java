package io.gpupool.client;

import io.gpupool.proto.v1.Call;
import io.gpupool.proto.v1.ClientMessage;
import io.gpupool.proto.v1.DeviceInfo;
import io.gpupool.proto.v1.Reply;
import io.gpupool.proto.v1.ReplyBatch;
import io.gpupool.proto.v1.ServerMessage;
import io.gpupool.proto.v1.Welcome;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.function.Consumer;

/**
 * A scripted stand-in for an agent or a worker, speaking remote.proto's frames on a
 * loopback socket. Only for the transport's unit tests: the contract runs on the real worker.
 */
final class ScriptedPeer implements AutoCloseable {
  private final ServerSocket server;

  ScriptedPeer() throws IOException {
    this(new ServerSocket(0, 10, InetAddress.getLoopbackAddress()));
  }

  /** On a given listening socket: a TLS one (an SSLServerSocket) for the TLS tests. */
  ScriptedPeer(ServerSocket server) throws IOException {
    this.server = server;
    server.setSoTimeout(20_000);
  }

  int port() {
    return server.getLocalPort();
  }

  /** Accepts one connection and runs {@code script} on it in the background. */
  CompletableFuture<Void> serve(Consumer<Conn> script) {
    return CompletableFuture.runAsync(() -> {
      try (Conn conn = new Conn(server.accept())) {
        script.accept(conn);
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    });
  }

  @Override
  public void close() throws IOException {
    server.close();
  }

  static final class Conn implements AutoCloseable {
    final Socket socket;
    private final InputStream in;
    private final OutputStream out;
    /** Sizes of the frames read, in bytes. */
    final List<Integer> frameSizes = new ArrayList<>();

    Conn(Socket socket) throws IOException {
      this.socket = socket;
      socket.setSoTimeout(20_000);
      in = socket.getInputStream();
      out = socket.getOutputStream();
    }

    /** The next message; null at end of stream. */
    ClientMessage read() {
      try {
        ClientMessage m = ClientMessage.parseDelimitedFrom(in);
        if (m != null) {
          frameSizes.add(m.getSerializedSize());
        }
        return m;
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }

    /** The calls of the next CallBatch. */
    List<Call> calls() {
      ClientMessage m = read();
      if (m == null || !m.hasCalls()) {
        throw new AssertionError("expected a CallBatch, got " + m);
      }
      return m.getCalls().getCallsList();
    }

    /** Reads batches until a call of {@code op} arrives; returns every call read. */
    List<Call> callsUntil(Call.OpCase op) {
      List<Call> all = new ArrayList<>();
      while (all.isEmpty() || all.get(all.size() - 1).getOpCase() != op) {
        all.addAll(calls());
      }
      return all;
    }

    void send(ServerMessage m) {
      try {
        m.writeDelimitedTo(out);
        out.flush();
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }

    void reply(Reply.Builder... replies) {
      ReplyBatch.Builder batch = ReplyBatch.newBuilder();
      for (Reply.Builder r : replies) {
        batch.addReplies(r);
      }
      send(ServerMessage.newBuilder().setReplies(batch).build());
    }

    /** Reads the Attach (returning its secret) and answers Welcome. */
    byte[] welcome() {
      ClientMessage attach = read();
      if (attach == null || !attach.hasAttach()) {
        throw new AssertionError("expected Attach, got " + attach);
      }
      send(ServerMessage.newBuilder().setWelcome(Welcome.newBuilder()
          .setDevice(DeviceInfo.newBuilder().setName("scripted GPU").setTotalMemoryBytes(1L << 30)
              .setComputeCapabilityMajor(9).setMultiprocessorCount(4))
          .addAllAttributes(List.of(1024, 1024, 64)).setDriverVersion(13000)).build());
      return attach.getAttach().getSecret().toByteArray();
    }

    @Override
    public void close() {
      try {
        socket.close();
      } catch (IOException e) {
        // closing
      }
    }
  }
}
