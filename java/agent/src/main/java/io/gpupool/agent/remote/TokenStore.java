package io.gpupool.agent.remote;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.time.Instant;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;

/**
 * The tokens remote clients authenticate with, in {@code <state>/tokens} (mode 0600):
 *
 * <pre>
 * sha256-hex-of-token  name  created-iso-8601
 * </pre>
 *
 * Only hashes are stored: the token itself is shown once, by `gpupool token create`. The file is
 * read at every Hello, so a token added or removed takes effect without restarting the agent.
 */
public final class TokenStore {
  private static final SecureRandom RANDOM = new SecureRandom();
  private final Path file;

  public TokenStore(Path stateDir) {
    this.file = stateDir.resolve("tokens");
  }

  public Path file() {
    return file;
  }

  /** Makes a token, records its hash under {@code name}, and returns it. */
  public synchronized String create(String name) throws IOException {
    if (name.isEmpty() || !name.matches("[A-Za-z0-9_.@-]{1,64}")) {
      throw new IllegalArgumentException("token name: 1..64 of letters, digits, _ . @ -, not '" + name + "'");
    }
    byte[] raw = new byte[32];
    RANDOM.nextBytes(raw);
    String token = "gpt_" + Base64.getUrlEncoder().withoutPadding().encodeToString(raw);
    Files.createDirectories(file.getParent());
    if (!Files.exists(file)) {
      Files.createFile(file, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
    }
    Files.writeString(file, hash(token) + " " + name + " " + Instant.now() + "\n", StandardCharsets.UTF_8,
        StandardOpenOption.APPEND);
    return token;
  }

  /** The name the token was created under, if it is a valid token. */
  public Optional<String> check(String token) throws IOException {
    if (token == null || token.isEmpty() || token.length() > 256 || !Files.exists(file)) return Optional.empty();
    byte[] given = HexFormat.of().parseHex(hash(token));
    List<String> lines = Files.readAllLines(file, StandardCharsets.UTF_8);
    String match = null;
    for (String line : lines) {
      String[] f = line.trim().split("\\s+");
      if (f.length < 2 || f[0].length() != 64) continue;
      byte[] stored;
      try {
        stored = HexFormat.of().parseHex(f[0]);
      } catch (IllegalArgumentException e) {
        continue;
      }
      // Constant time in the token: every line is compared, whatever matched before.
      if (MessageDigest.isEqual(stored, given) && match == null) match = f[1];
    }
    return Optional.ofNullable(match);
  }

  static String hash(String token) {
    try {
      return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(token.getBytes(StandardCharsets.UTF_8)));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 is missing from this JDK", e);
    }
  }
}
