package io.gpupool.remote;

import com.google.protobuf.ByteString;
import com.google.protobuf.CodedOutputStream;
import io.gpupool.proto.v1.Attach;
import io.gpupool.proto.v1.Call;
import io.gpupool.proto.v1.CallBatch;
import io.gpupool.proto.v1.ClientMessage;
import io.gpupool.proto.v1.Reply;
import io.gpupool.proto.v1.ServerMessage;
import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;

/**
 * The protocol spoken by hand over a plain socket (varint32-delimited protobuf), so the tests
 * check the worker against remote.proto and not against the Java client's interpretation.
 */
final class RawClient implements AutoCloseable {
  final Socket socket;
  private final InputStream in;
  private final OutputStream out;
  private final Deque<Reply> replies = new ArrayDeque<>();
  private long seq = 1;

  RawClient(InetSocketAddress address) throws IOException {
    socket = new Socket(address.getAddress(), address.getPort());
    socket.setSoTimeout(20_000);
    socket.setTcpNoDelay(true);
    in = new BufferedInputStream(socket.getInputStream());
    out = new BufferedOutputStream(socket.getOutputStream());
  }

  static RawClient attached(WorkerServer server, byte[] secret) throws IOException {
    RawClient c = new RawClient(server.address());
    ServerMessage m = c.attach(secret);
    if (!m.hasWelcome()) throw new IOException("not welcomed: " + m);
    return c;
  }

  ServerMessage attach(byte[] secret) throws IOException {
    send(ClientMessage.newBuilder().setAttach(Attach.newBuilder().setSecret(ByteString.copyFrom(secret))).build());
    return read();
  }

  void send(ClientMessage message) throws IOException {
    message.writeDelimitedTo(out);
    out.flush();
  }

  /** Writes raw frame bytes (or any bytes) as they are. */
  void sendRaw(byte[] bytes) throws IOException {
    out.write(bytes);
    out.flush();
  }

  static byte[] frame(byte[] body) {
    byte[] framed = new byte[CodedOutputStream.computeUInt32SizeNoTag(body.length) + body.length];
    try {
      CodedOutputStream c = CodedOutputStream.newInstance(framed);
      c.writeUInt32NoTag(body.length);
      c.writeRawBytes(body);
    } catch (IOException e) {
      throw new AssertionError(e);
    }
    return framed;
  }

  /** Numbers the calls in order and sends them as one CallBatch; returns the first seq. */
  long call(Call.Builder... calls) throws IOException {
    long first = seq;
    CallBatch.Builder batch = CallBatch.newBuilder();
    for (Call.Builder c : calls) batch.addCalls(c.setSeq(seq++));
    send(ClientMessage.newBuilder().setCalls(batch).build());
    return first;
  }

  long nextSeq() {
    return seq;
  }

  void skipSeq(long n) {
    seq += n;
  }

  /** The next server message, or null at end of stream. */
  ServerMessage read() throws IOException {
    return ServerMessage.parseDelimitedFrom(in);
  }

  /** The next reply (reading more batches as needed). */
  Reply reply() throws IOException {
    while (replies.isEmpty()) {
      ServerMessage m = read();
      if (m == null) throw new IOException("connection closed");
      if (!m.hasReplies()) throw new IOException("expected replies, got " + m);
      replies.addAll(m.getReplies().getRepliesList());
    }
    return replies.poll();
  }

  /** The replies of one DtoH copy, until `last`. */
  List<Reply> chunks() throws IOException {
    List<Reply> list = new ArrayList<>();
    Reply r;
    do {
      r = reply();
      list.add(r);
    } while (!r.getLast());
    return list;
  }

  /** Reads until the server closes; returns its last message (a Refused, if any) or null. */
  ServerMessage drainUntilClosed(int timeoutMs) throws IOException {
    socket.setSoTimeout(timeoutMs);
    ServerMessage last = null;
    try {
      for (ServerMessage m; (m = read()) != null; ) last = m;
    } catch (SocketTimeoutException e) {
      return last;
    } catch (IOException e) {
      // a reset or a garbled tail: the connection is over
    }
    return last;
  }

  @Override
  public void close() throws IOException {
    socket.close();
  }
}
