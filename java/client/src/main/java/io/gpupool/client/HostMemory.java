package io.gpupool.client;

import com.google.protobuf.ByteString;
import com.google.protobuf.UnsafeByteOperations;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import jcuda.Pointer;

/**
 * Host memory a copy reads or writes: a primitive array or a ByteBuffer's remaining bytes
 * (its position and limit are left as they are). Remote copies move it in chunks through
 * {@link #chunk} and {@link #put}, so no buffer of the whole size is ever made.
 */
abstract class HostMemory {
  private final long bytes;

  private HostMemory(long bytes) {
    this.bytes = bytes;
  }

  final long bytes() {
    return bytes;
  }

  /** For the local back end's JCuda calls. */
  abstract Pointer pointer();

  /** {@code length} bytes from {@code offset}, little-endian. */
  abstract ByteString chunk(long offset, int length);

  /** Writes {@code data} at {@code offset}. */
  abstract void put(long offset, ByteString data);

  /** The byte array these bytes are, all of it, if they are one (a remote copy's data can go straight there). */
  byte[] array() {
    return null;
  }

  /** Views little-endian bytes [offset, offset + length) of an array as a ByteBuffer. */
  private static ByteBuffer window(byte[] bytes) {
    return ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
  }

  private static ByteBuffer view(ByteString data) {
    return data.asReadOnlyByteBuffer().order(ByteOrder.LITTLE_ENDIAN);
  }

  static HostMemory of(byte[] a) {
    return new HostMemory(a.length) {
      Pointer pointer() { return Pointer.to(a); }
      // No copy: a copy's chunks are serialised onto the socket before copyHtoD(Async) returns.
      ByteString chunk(long offset, int length) { return UnsafeByteOperations.unsafeWrap(a, (int) offset, length); }
      void put(long offset, ByteString data) { data.copyTo(a, (int) offset); }
      byte[] array() { return a; }
    };
  }

  static HostMemory of(int[] a) {
    return new HostMemory(4L * a.length) {
      Pointer pointer() { return Pointer.to(a); }
      ByteString chunk(long offset, int length) {
        byte[] b = new byte[length];
        window(b).asIntBuffer().put(a, (int) (offset / 4), length / 4);
        return UnsafeByteOperations.unsafeWrap(b);
      }
      void put(long offset, ByteString data) { view(data).asIntBuffer().get(a, (int) (offset / 4), data.size() / 4); }
    };
  }

  static HostMemory of(float[] a) {
    return new HostMemory(4L * a.length) {
      Pointer pointer() { return Pointer.to(a); }
      ByteString chunk(long offset, int length) {
        byte[] b = new byte[length];
        window(b).asFloatBuffer().put(a, (int) (offset / 4), length / 4);
        return UnsafeByteOperations.unsafeWrap(b);
      }
      void put(long offset, ByteString data) { view(data).asFloatBuffer().get(a, (int) (offset / 4), data.size() / 4); }
    };
  }

  static HostMemory of(long[] a) {
    return new HostMemory(8L * a.length) {
      Pointer pointer() { return Pointer.to(a); }
      ByteString chunk(long offset, int length) {
        byte[] b = new byte[length];
        window(b).asLongBuffer().put(a, (int) (offset / 8), length / 8);
        return UnsafeByteOperations.unsafeWrap(b);
      }
      void put(long offset, ByteString data) { view(data).asLongBuffer().get(a, (int) (offset / 8), data.size() / 8); }
    };
  }

  static HostMemory of(double[] a) {
    return new HostMemory(8L * a.length) {
      Pointer pointer() { return Pointer.to(a); }
      ByteString chunk(long offset, int length) {
        byte[] b = new byte[length];
        window(b).asDoubleBuffer().put(a, (int) (offset / 8), length / 8);
        return UnsafeByteOperations.unsafeWrap(b);
      }
      void put(long offset, ByteString data) { view(data).asDoubleBuffer().get(a, (int) (offset / 8), data.size() / 8); }
    };
  }

  /** The buffer's remaining bytes; {@code writable}: it is a copy's destination. */
  static HostMemory of(ByteBuffer buffer, boolean writable) {
    if (writable && buffer.isReadOnly()) {
      throw new IllegalArgumentException("a read-only ByteBuffer as a copy's destination");
    }
    ByteBuffer b = buffer.slice();
    return new HostMemory(b.remaining()) {
      Pointer pointer() {
        // A slice's own address (direct) or array offset (heap; JCuda would count the offset twice).
        if (b.isDirect()) {
          return Pointer.to(b);
        }
        if (b.hasArray()) {
          return Pointer.to(b.array()).withByteOffset(b.arrayOffset());
        }
        ByteBuffer copy = ByteBuffer.allocateDirect(b.remaining());
        copy.put(b.duplicate()).flip();
        return Pointer.to(copy);
      }
      ByteString chunk(long offset, int length) {
        return UnsafeByteOperations.unsafeWrap(b.duplicate().position((int) offset).limit((int) offset + length).slice());
      }
      void put(long offset, ByteString data) { data.copyTo(b.duplicate().position((int) offset)); }
    };
  }
}
