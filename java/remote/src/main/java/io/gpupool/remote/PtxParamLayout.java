package io.gpupool.remote;

import io.gpupool.proto.v1.ParamInfo;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Kernel parameter layouts read from a PTX image's {@code .entry} declarations: the fallback
 * where {@code cuFuncGetParamInfo} ({@link DriverFunctions}), the robust way that works
 * whatever the image format, cannot be called (a driver older than CUDA 12.4, or the worker's
 * JNI library did not load). PTX states every parameter's type, array length and alignment,
 * and the parameter buffer layout follows from them (each parameter at the next multiple of
 * its alignment), which is what the driver reports for PTX modules. Cubin and fatbin images
 * carry no such text: without cuFuncGetParamInfo their functions are refused with
 * CUDA_ERROR_NOT_SUPPORTED.
 */
final class PtxParamLayout {
  private static final Pattern ENTRY = Pattern.compile("\\.entry\\s+([A-Za-z_$%][\\w$%]*)\\s*\\(([^)]*)\\)");
  private static final Pattern DIM = Pattern.compile("\\[\\s*(\\d+)\\s*\\]");

  private PtxParamLayout() {}

  /** True if the image is PTX text rather than an ELF cubin or a fatbin. */
  static boolean isPtx(byte[] image) {
    if (image.length >= 4 && image[0] == 0x7f && image[1] == 'E' && image[2] == 'L' && image[3] == 'F') return false;
    // fatbin (0xBA55ED50) and fatbin wrapper (0x466243B1) magics, little-endian.
    if (image.length >= 4 && (image[0] & 0xff) == 0x50 && (image[1] & 0xff) == 0xED) return false;
    if (image.length >= 4 && (image[0] & 0xff) == 0xB1 && (image[1] & 0xff) == 0x43) return false;
    return true;
  }

  /** Each entry's parameters (offset and size) by name; entries whose list cannot be read are left out. */
  static Map<String, List<ParamInfo>> parse(byte[] ptx) {
    String text = stripComments(new String(ptx, StandardCharsets.ISO_8859_1));
    Map<String, List<ParamInfo>> entries = new HashMap<>();
    Matcher m = ENTRY.matcher(text);
    while (m.find()) {
      List<ParamInfo> params = params(m.group(2));
      if (params != null) entries.put(m.group(1), params);
    }
    return entries;
  }

  private static List<ParamInfo> params(String list) {
    List<ParamInfo> params = new ArrayList<>();
    if (list.isBlank()) return params;
    long end = 0;
    for (String declaration : list.split(",")) {
      long[] sizeAlign = sizeAndAlignment(declaration.strip());
      if (sizeAlign == null) return null;
      long offset = (end + sizeAlign[1] - 1) / sizeAlign[1] * sizeAlign[1];
      end = offset + sizeAlign[0];
      if (end > Integer.MAX_VALUE) return null;
      params.add(ParamInfo.newBuilder().setOffset((int) offset).setSize((int) sizeAlign[0]).build());
    }
    return params;
  }

  /** ".param [.align N] .TYPE [.ptr [.space] [.align N]] NAME[[N]...]" → {size, alignment}. */
  private static long[] sizeAndAlignment(String declaration) {
    String[] tokens = declaration.split("\\s+");
    if (tokens.length < 2 || !tokens[0].equals(".param")) return null;
    long element = 0;
    long align = 0;
    boolean pointer = false;
    int i = 1;
    for (; i < tokens.length && tokens[i].startsWith("."); i++) {
      String t = tokens[i];
      if (t.equals(".ptr")) {
        pointer = true;
      } else if (t.equals(".align")) {
        if (++i >= tokens.length) return null;
        long a = parsePositive(tokens[i]);
        if (a <= 0) return null;
        if (!pointer) align = a; // after .ptr it is the pointee's alignment
      } else if (typeSize(t) > 0) {
        element = typeSize(t);
      } else if (t.equals(".texref") || t.equals(".samplerref") || t.equals(".surfref")) {
        element = 8;
      }
    }
    if (element == 0 || i >= tokens.length) return null;
    String rest = String.join("", java.util.Arrays.copyOfRange(tokens, i, tokens.length));
    int bracket = rest.indexOf('[');
    long count = 1;
    if (bracket >= 0) {
      Matcher d = DIM.matcher(rest.substring(bracket));
      int consumed = 0;
      while (d.find() && d.start() == consumed) {
        count *= parsePositive(d.group(1));
        consumed = d.end();
        if (count <= 0) return null;
      }
      if (consumed != rest.length() - bracket) return null;
    }
    return new long[] {element * count, align != 0 ? align : element};
  }

  private static int typeSize(String t) {
    switch (t) {
      case ".b8": case ".u8": case ".s8": case ".pred": return 1;
      case ".b16": case ".u16": case ".s16": case ".f16": case ".bf16": return 2;
      case ".b32": case ".u32": case ".s32": case ".f32": case ".f16x2": case ".bf16x2": return 4;
      case ".b64": case ".u64": case ".s64": case ".f64": return 8;
      default: return 0;
    }
  }

  private static long parsePositive(String s) {
    try {
      long v = Long.decode(s);
      return v > 0 && v <= Integer.MAX_VALUE ? v : -1;
    } catch (NumberFormatException e) {
      return -1;
    }
  }

  private static String stripComments(String text) {
    return text.replaceAll("(?s)/\\*.*?\\*/", " ").replaceAll("//[^\\n]*", " ");
  }
}
