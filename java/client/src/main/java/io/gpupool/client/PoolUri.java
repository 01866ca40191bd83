package io.gpupool.client;

import java.math.BigDecimal;
import java.math.RoundingMode;
import java.net.URI;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * A pool's address: {@code local:N} (device N of this machine; {@code local:/} is device 0)
 * or
 * {@code gpupool://host:port?token=T&memory=4GiB&name=x&team=y&noWait=true}, or the same over TLS:
 * {@code gpupools://host:port?token=T&trust=/path/ca.pem} ({@code trust}: the certificates to
 * trust, a CA's or the agent's own; without it, the JVM's trust store).
 *
 * @param tls {@code gpupools://}: TLS to the agent and to the session's worker
 * @param trust the PEM file of certificates to trust, or null (the JVM's trust store)
 */
record PoolUri(boolean local, int ordinal, String host, int port, String token, long memoryBytes, String name,
    String team, boolean noWait, boolean tls, Path trust) {
  static final int DEFAULT_PORT = 7070;
  private static final Set<String> PARAMETERS = Set.of("token", "memory", "name", "team", "noWait", "trust");

  static PoolUri parse(URI uri) {
    String scheme = uri.getScheme();
    if ("local".equals(scheme)) {
      return new PoolUri(true, ordinal(uri), null, 0, null, 0, null, null, false, false, null);
    }
    boolean tls = "gpupools".equals(scheme);
    if (!(tls || "gpupool".equals(scheme)) || uri.getHost() == null) {
      throw new IllegalArgumentException("'" + redacted(uri) + "' is not a pool address: use local:0,"
          + " gpupool://HOST[:PORT]?token=TOKEN[&memory=4GiB][&name=NAME][&team=TEAM][&noWait=true]"
          + " or, over TLS, gpupools://HOST[:PORT]?token=TOKEN[&trust=CA.pem][&...]");
    }
    Map<String, String> query = query(uri);
    String trust = query.get("trust");
    if (trust != null && !tls) {
      throw new IllegalArgumentException("'trust' is for TLS: use gpupools:// in " + redacted(uri));
    }
    if (trust != null && trust.isEmpty()) {
      throw new IllegalArgumentException("'trust' needs the path of a PEM file in " + redacted(uri));
    }
    return new PoolUri(false, 0, uri.getHost(), uri.getPort() < 0 ? DEFAULT_PORT : uri.getPort(),
        query.getOrDefault("token", ""),
        query.containsKey("memory") ? parseSize(query.get("memory")) : 0,
        query.getOrDefault("name", ""), query.getOrDefault("team", ""),
        Boolean.parseBoolean(query.getOrDefault("noWait", "false")),
        tls, trust == null ? null : Path.of(trust));
  }

  // java.net.URI has no "local:" (a scheme needs something after it): "local:0", "local:/".
  private static int ordinal(URI uri) {
    String part = uri.getSchemeSpecificPart();
    if (part == null || part.isEmpty() || part.equals("/") || part.equals("//")) {
      return 0;
    }
    try {
      int ordinal = Integer.parseInt(part);
      if (ordinal >= 0) {
        return ordinal;
      }
    } catch (NumberFormatException e) {
      // below
    }
    throw new IllegalArgumentException("'" + uri + "' is not a local device: use local:0, local:1, ...");
  }

  private static Map<String, String> query(URI uri) {
    Map<String, String> values = new HashMap<>();
    String raw = uri.getRawQuery();
    if (raw == null || raw.isEmpty()) {
      return values;
    }
    for (String pair : raw.split("&")) {
      int eq = pair.indexOf('=');
      String key = URLDecoder.decode(eq < 0 ? pair : pair.substring(0, eq), StandardCharsets.UTF_8);
      String value = eq < 0 ? "" : URLDecoder.decode(pair.substring(eq + 1), StandardCharsets.UTF_8);
      if (!PARAMETERS.contains(key)) {
        throw new IllegalArgumentException("unknown parameter '" + key + "' in " + redacted(uri)
            + " (known: " + PARAMETERS + ")");
      }
      values.put(key, value);
    }
    return values;
  }

  /** "4GiB", "512MiB", "1.5GB", "1048576" -> bytes (K/M/G/T alone are binary, as the shim reads them). */
  static long parseSize(String text) {
    String t = text.trim();
    int split = 0;
    while (split < t.length() && (Character.isDigit(t.charAt(split)) || t.charAt(split) == '.')) {
      split++;
    }
    String unit = t.substring(split).trim().toLowerCase(Locale.ROOT);
    long factor;
    switch (unit) {
      case "": case "b": factor = 1; break;
      case "k": case "kib": factor = 1L << 10; break;
      case "m": case "mib": factor = 1L << 20; break;
      case "g": case "gib": factor = 1L << 30; break;
      case "t": case "tib": factor = 1L << 40; break;
      case "kb": factor = 1000L; break;
      case "mb": factor = 1000_000L; break;
      case "gb": factor = 1000_000_000L; break;
      case "tb": factor = 1000_000_000_000L; break;
      default: factor = -1;
    }
    try {
      if (split == 0 || factor < 0) {
        throw new NumberFormatException();
      }
      return new BigDecimal(t.substring(0, split)).multiply(BigDecimal.valueOf(factor))
          .setScale(0, RoundingMode.CEILING).longValueExact();
    } catch (NumberFormatException | ArithmeticException e) {
      throw new IllegalArgumentException("'" + text + "' is not a memory size (e.g. 4GiB, 512MiB, 1048576)");
    }
  }

  /** The URI without its token, for messages. */
  static String redacted(URI uri) {
    return uri.toString().replaceAll("token=[^&]*", "token=...");
  }
}
