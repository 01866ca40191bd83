package io.gpupool.remote;

import io.netty.buffer.ByteBuf;
import java.util.Arrays;

/**
 * Decodes a frame holding ClientMessage{calls: CallBatch{calls: [Call{seq, launch_kernel}...]}}
 * into a {@link LaunchBatch} without building protobuf objects: on the worker, protobuf's
 * parsing (a builder, a message and a ByteString per call and per LaunchKernel) cost more than
 * the simulated driver's launch call (17% against 10% of the worker's samples). The native client encodes these frames by hand as well
 * (wire::encode_launch_kernel).
 *
 * <p>Contract: {@link #decode} accepts a strict subset of the wire format and returns null for
 * anything else, valid or not (another call, an unknown field, a field twice, a wrong wire
 * type, a malformed varint, a length past the end): the caller then parses the frame with
 * protobuf, which stays the one authority on what is valid. For every frame it does accept,
 * the result equals what protobuf would parse (proto3 defaults for absent fields, uint32 fields
 * truncated to their low 32 bits as protobuf does); LaunchBatchDecoderTest checks this on
 * protoc-generated and on mutated frames. Never throws, never reads outside the frame's
 * readable bytes. Stateless.
 */
final class LaunchBatchDecoder {
  private static final int CLIENT_MESSAGE_CALLS = (3 << 3) | 2;
  private static final int BATCH_CALLS = (1 << 3) | 2;
  private static final int CALL_SEQ = (1 << 3);
  private static final int CALL_LAUNCH_KERNEL = (44 << 3) | 2;
  private static final int LAUNCH_PARAMS = (10 << 3) | 2;
  /** LaunchKernel's varint fields 1..9, in LaunchBatch's order. */
  private static final int[] LAUNCH_FIELD = {
      LaunchBatch.FUNCTION, LaunchBatch.GRID_X, LaunchBatch.GRID_Y, LaunchBatch.GRID_Z, LaunchBatch.BLOCK_X,
      LaunchBatch.BLOCK_Y, LaunchBatch.BLOCK_Z, LaunchBatch.SHARED_BYTES, LaunchBatch.STREAM};
  private static final boolean[] LAUNCH_FIELD_IS_UINT32 = {false, true, true, true, true, true, true, true, false};

  /** Larger frames are left to protobuf (the worker executes batches up to this size inline too). */
  static final int MAX_FRAME_BYTES = Session.MAX_INLINE_BYTES;

  private LaunchBatchDecoder() {}

  /**
   * The frame's launches, or null when it is not a batch of launches only (see the class
   * comment). A frame over {@link #MAX_FRAME_BYTES} is not looked at: launch batches are small,
   * and the bytes are copied out of the frame first (decoding a byte array costs a fraction of
   * decoding through the ByteBuf, and the batch then owns its params).
   */
  static LaunchBatch decode(ByteBuf frame) {
    int n = frame.readableBytes();
    if (n == 0 || n > MAX_FRAME_BYTES || frame.getByte(frame.readerIndex()) != CLIENT_MESSAGE_CALLS) return null;
    byte[] bytes = new byte[n];
    frame.getBytes(frame.readerIndex(), bytes);
    return decode(bytes);
  }

  /** {@link #decode(ByteBuf)} of a whole frame's bytes; the batch keeps {@code bytes}. */
  static LaunchBatch decode(byte[] bytes) {
    Cursor c = new Cursor(bytes);
    if (c.varint() != CLIENT_MESSAGE_CALLS) return null;
    long batchEnd = c.lengthEnd();
    if (batchEnd != c.end) return null; // exactly one field: the CallBatch, to the end of the frame
    long[] fields = new long[16 * LaunchBatch.STRIDE];
    int count = 0;
    while (c.at < batchEnd) {
      if (c.varint() != BATCH_CALLS) return null;
      long callEnd = c.lengthEnd();
      if (callEnd < 0) return null;
      if ((count + 1) * LaunchBatch.STRIDE > fields.length) fields = Arrays.copyOf(fields, fields.length * 2);
      if (!decodeCall(c, (int) callEnd, fields, count * LaunchBatch.STRIDE)) return null;
      count++;
    }
    return count == 0 || c.failed ? null : new LaunchBatch(bytes, fields, count);
  }

  /** Call{seq = 1, launch_kernel = 44} and nothing else, each at most once, launch_kernel present. */
  private static boolean decodeCall(Cursor c, int callEnd, long[] out, int base) {
    boolean seq = false, launch = false;
    while (c.at < callEnd) {
      long tag = c.varint();
      if (tag == CALL_SEQ && !seq) {
        seq = true;
        out[base + LaunchBatch.SEQ] = c.varint();
      } else if (tag == CALL_LAUNCH_KERNEL && !launch) {
        launch = true;
        long end = c.lengthEnd();
        if (end < 0 || end > callEnd || !decodeLaunch(c, (int) end, out, base)) return false;
      } else {
        return false;
      }
      if (c.failed) return false;
    }
    return launch && c.at == callEnd;
  }

  private static boolean decodeLaunch(Cursor c, int end, long[] out, int base) {
    int seen = 0;
    while (c.at < end) {
      long tag = c.varint();
      if (c.failed) return false;
      if (tag == LAUNCH_PARAMS) {
        if ((seen & (1 << 10)) != 0) return false;
        seen |= 1 << 10;
        long paramsEnd = c.lengthEnd();
        if (paramsEnd < 0 || paramsEnd > end) return false;
        out[base + LaunchBatch.PARAMS_INDEX] = c.at;
        out[base + LaunchBatch.PARAMS_LENGTH] = paramsEnd - c.at;
        c.at = (int) paramsEnd;
      } else if ((tag & 7) == 0 && tag >= (1 << 3) && tag <= (9 << 3) && (seen & (1 << (tag >>> 3))) == 0) {
        int number = (int) (tag >>> 3);
        seen |= 1 << number;
        long v = c.varint();
        out[base + LAUNCH_FIELD[number - 1]] = LAUNCH_FIELD_IS_UINT32[number - 1] ? (int) v : v;
      } else {
        return false;
      }
      if (c.failed) return false;
    }
    return c.at == end;
  }

  /** Reads varints and lengths within a byte array; sets failed instead of throwing. */
  private static final class Cursor {
    final byte[] buf;
    final int end;
    int at;
    boolean failed;

    Cursor(byte[] buf) {
      this.buf = buf;
      this.end = buf.length;
    }

    /**
     * A varint of at most 10 bytes (protobuf's limit); on failure 0 and failed. A tenth byte
     * must be 1, as an encoder writes it: protobuf's parser gives other values (non-canonical,
     * or bits beyond 64) different meanings depending on how many bytes it has buffered.
     */
    long varint() {
      long v = 0;
      for (int shift = 0; shift < 63; shift += 7) {
        if (at >= end) {
          failed = true;
          return 0;
        }
        byte b = buf[at++];
        v |= (long) (b & 0x7f) << shift;
        if (b >= 0) return v;
      }
      if (at < end && buf[at] == 1) {
        at++;
        return v | Long.MIN_VALUE;
      }
      failed = true;
      return 0;
    }

    /** A length-delimited field's length: the index where its bytes end, or -1 if past the end. */
    long lengthEnd() {
      long n = varint();
      if (failed || n < 0 || n > end - at) return -1;
      return at + n;
    }
  }
}
