package io.gpupool.client;

import com.google.protobuf.CodedInputStream;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.MessageLite;
import com.google.protobuf.UnsafeByteOperations;
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
    return read(in, null);
  }

  /**
   * As {@link #read(DataInputStream)}, reading the frame into {@code buffer} (grown as needed)
   * and parsing it in place: the message's {@code bytes} fields (DtoH data) are views of the
   * buffer, valid only until the next read into it. Without a buffer, a frame of its own.
   */
  static ServerMessage read(DataInputStream in, FrameBuffer buffer) throws IOException {
    int length = readLength(in);
    return length < 0 ? null : readBody(in, length, buffer, 0);
  }

  /** The next frame's length; -1 at a clean end of stream (before a frame). */
  static int readLength(DataInputStream in) throws IOException {
    int first = in.read();
    if (first < 0) {
      return -1;
    }
    int length = CodedInputStream.readRawVarint32(first, in);
    if (length < 0 || length > MAX_FRAME_BYTES) {
      throw new ProtocolException("the peer sent a frame of " + Integer.toUnsignedString(length)
          + " bytes; the limit is " + MAX_FRAME_BYTES);
    }
    return length;
  }

  /**
   * The frame of {@code length} bytes whose first {@code have} bytes are already at the start of
   * {@code buffer} (none without a buffer), reading the rest.
   */
  static ServerMessage readBody(DataInputStream in, int length, FrameBuffer buffer, int have) throws IOException {
    byte[] frame = buffer == null ? new byte[length] : buffer.get(length);
    try {
      in.readFully(frame, have, length - have);
    } catch (EOFException e) {
      throw new EOFException("the connection ended inside a frame");
    }
    try {
      if (buffer == null) {
        return ServerMessage.parseFrom(frame);
      }
      CodedInputStream coded = UnsafeByteOperations.unsafeWrap(frame, 0, length).newCodedInput();
      coded.enableAliasing(true);
      return ServerMessage.parseFrom(coded);
    } catch (InvalidProtocolBufferException e) {
      throw new ProtocolException("the peer sent a malformed frame: " + e.getMessage(), e);
    }
  }

  /** A frame buffer reused from one read to the next (one reader thread's). */
  static final class FrameBuffer {
    private byte[] bytes = new byte[1 << 16];

    byte[] get(int length) {
      if (bytes.length < length) {
        bytes = new byte[Math.max(length, Math.min(MAX_FRAME_BYTES, 2 * bytes.length))];
      }
      return bytes;
    }
  }

  static DataInputStream input(InputStream in) {
    return new DataInputStream(new java.io.BufferedInputStream(in, 1 << 16));
  }
}
