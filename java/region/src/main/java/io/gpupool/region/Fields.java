package io.gpupool.region;

import io.gpupool.region.binding.GpupoolLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.regex.Pattern;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.IntPointer;
import org.bytedeco.javacpp.Loader;
import org.bytedeco.javacpp.LongPointer;
import org.bytedeco.javacpp.Pointer;

/**
 * Helpers over the generated binding (package-private): pointers to single fields for the
 * headers' atomic functions, fixed-size character fields, magics. Offsets and sizes come from
 * the C++ compiler through JavaCPP ({@link Loader#offsetof}, {@link Loader#sizeof}); nothing
 * here restates the layout.
 */
final class Fields {
  /** A job key (or an agent instance name): 1..GPUPOOL_REGION_JOB_MAX of [A-Za-z0-9_.-]. */
  static final Pattern KEY =
      Pattern.compile("[A-Za-z0-9_.-]{1," + GpupoolLayout.GPUPOOL_REGION_JOB_MAX + "}");

  static {
    // Loads the JNI library, which registers the compiler's sizes and offsets of every struct.
    Loader.load(GpupoolLayout.class);
  }

  private Fields() {}

  /** sizeof({@code type}) as the C++ compiler laid it out. */
  static int sizeof(Class<? extends Pointer> type) {
    return offset(type, "sizeof", 1);
  }

  /** The byte offset of {@code member} in {@code type}, as the C++ compiler laid it out. */
  static int offset(Class<? extends Pointer> type, String member, int alignment) {
    Integer found;
    try {
      found = Loader.offsetof(type, member);
    } catch (NullPointerException e) {
      found = null; // a member JavaCPP does not know
    }
    int offset = found == null ? -1 : found;
    if (offset < 0 || offset % alignment != 0) {
      throw new IllegalStateException("no aligned member " + member + " in " + type.getName()
          + " (offsetof=" + offset + ")");
    }
    return offset;
  }

  /** CLOCK_REALTIME in nanoseconds since the epoch. */
  static long unixNanos() {
    Instant now = Instant.now();
    return now.getEpochSecond() * 1_000_000_000L + now.getNano();
  }

  /** A pointer to the uint64_t at {@code offset} bytes into {@code struct}. */
  static LongPointer u64(Pointer struct, int offset) {
    return new LongPointer(new BytePointer(struct).getPointer(offset));
  }

  /** A pointer to the uint32_t at {@code offset} bytes into {@code struct}. */
  static IntPointer u32(Pointer struct, int offset) {
    return new IntPointer(new BytePointer(struct).getPointer(offset));
  }

  /** The bytes of a NUL-terminated C string literal such as a magic, NUL included. */
  static byte[] cString(String literal) {
    byte[] text = literal.getBytes(StandardCharsets.US_ASCII);
    byte[] bytes = new byte[text.length + 1];
    System.arraycopy(text, 0, bytes, 0, text.length);
    return bytes;
  }

  /** An 8-byte magic as the native-order 64-bit word it is in memory. */
  static long magicWord(String literal) {
    byte[] bytes = cString(literal);
    if (bytes.length != Long.BYTES) {
      throw new IllegalStateException("magic " + literal + " is not 8 bytes");
    }
    return ByteBuffer.wrap(bytes).order(ByteOrder.nativeOrder()).getLong();
  }

  /** {@code n} bytes from {@code field}. */
  static byte[] bytes(BytePointer field, int n) {
    byte[] bytes = new byte[n];
    field.get(bytes);
    return bytes;
  }

  /** Writes {@code value} into a fixed field of {@code capacity} bytes, zero-padding the rest. */
  static void putBytes(BytePointer field, int capacity, byte[] value) {
    if (value.length > capacity) {
      throw new IllegalArgumentException(value.length + " bytes do not fit " + capacity);
    }
    byte[] padded = new byte[capacity];
    System.arraycopy(value, 0, padded, 0, value.length);
    field.put(padded);
  }

  /** The NUL-terminated string in a field of {@code capacity} bytes (UTF-8), or null if no NUL. */
  static String getString(BytePointer field, int capacity) {
    byte[] bytes = bytes(field, capacity);
    for (int i = 0; i < bytes.length; i++) {
      if (bytes[i] == 0) {
        return new String(bytes, 0, i, StandardCharsets.UTF_8);
      }
    }
    return null;
  }

  /** The UTF-8 bytes of a label (name, team) that must fit a field of {@code capacity} with its NUL. */
  static byte[] label(String what, String value, int capacity) {
    String text = value == null ? "" : value;
    if (text.indexOf('\0') >= 0) {
      throw new IllegalArgumentException(what + " contains a NUL character");
    }
    byte[] bytes = text.getBytes(StandardCharsets.UTF_8);
    if (bytes.length >= capacity) {
      throw new IllegalArgumentException(what + " is " + bytes.length + " bytes of UTF-8; at most "
          + (capacity - 1) + " fit");
    }
    return bytes;
  }

  /** UTF-8 bytes of {@code text}, cut at a character boundary to at most {@code max} bytes. */
  static byte[] truncatedUtf8(String text, int max) {
    byte[] bytes = (text == null ? "" : text.replace('\0', ' ')).getBytes(StandardCharsets.UTF_8);
    if (bytes.length <= max) {
      return bytes;
    }
    int end = max;
    while (end > 0 && (bytes[end] & 0xC0) == 0x80) {
      end--; // bytes[end] continues a character that starts before it: cut before that one
    }
    byte[] cut = new byte[end];
    System.arraycopy(bytes, 0, cut, 0, end);
    return cut;
  }

  /** A magic for messages: printable ASCII as is, anything else escaped. */
  static String printable(byte[] bytes) {
    StringBuilder out = new StringBuilder("\"");
    for (byte b : bytes) {
      if (b >= 0x20 && b < 0x7F && b != '"' && b != '\\') {
        out.append((char) b);
      } else {
        out.append(String.format("\\x%02x", b & 0xFF));
      }
    }
    return out.append('"').toString();
  }
}
