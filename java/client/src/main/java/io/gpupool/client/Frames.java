package io.gpupool.client;

import com.google.protobuf.CodedInputStream;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.MessageLite;
import io.gpupool.proto.v1.RemoteLimits;
import io.gpupool.proto.v1.ServerMessage;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;

/** remote.proto's framing: a varint32 length, then that many bytes; at most MAX_FRAME_BYTES. */
final class Frames {
  static final int MAX_FRAME_BYTES = RemoteLimits.MAX_FRAME_BYTES_VALUE;
  static final int MAX_CHUNK_BYTES = RemoteLimits.MAX_CHUNK_BYTES_VALUE;

  private Frames() {}

  /** Writes one frame and flushes. */
  static void write(OutputStream out, MessageLite message) throws IOException {
    int size = message.getSerializedSize();
    if (size > MAX_FRAME_BYTES) {
      throw new IllegalArgumentException("a frame of " + size + " bytes exceeds the protocol's "
          + MAX_FRAME_BYTES);
    }
    message.writeDelimitedTo(out);
    out.flush();
  }

  /** The next ServerMessage; null at a clean end of stream (before a frame). */
  static ServerMessage read(DataInputStream in) throws IOException {
    int first = in.read();
    if (first < 0) {
      return null;
    }
    int length = CodedInputStream.readRawVarint32(first, in);
    if (length < 0 || length > MAX_FRAME_BYTES) {
      throw new ProtocolException("the peer sent a frame of " + Integer.toUnsignedString(length)
          + " bytes; the limit is " + MAX_FRAME_BYTES);
    }
    byte[] frame = new byte[length];
    try {
      in.readFully(frame);
    } catch (EOFException e) {
      throw new EOFException("the connection ended inside a frame");
    }
    try {
      return ServerMessage.parseFrom(frame);
    } catch (InvalidProtocolBufferException e) {
      throw new ProtocolException("the peer sent a malformed frame: " + e.getMessage(), e);
    }
  }

  static DataInputStream input(InputStream in) {
    return new DataInputStream(new java.io.BufferedInputStream(in, 1 << 16));
  }
}
