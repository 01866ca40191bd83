package io.gpupool.client;

import io.gpupool.proto.v1.Reply;
import java.util.concurrent.CompletableFuture;
import java.util.function.Predicate;

/**
 * A call of a {@link RemoteSession} waiting for its replies.
 *
 * <p>{@code async}: its future was handed to the user (an async copy), so it is completed only on
 * the session's own thread, whichever thread read the reply; a synchronous call's future has no
 * dependents but its own caller. {@code target}: a DtoH copy's destination array, into which the
 * reading thread reads the chunks' data straight from the socket ({@link FrameReader});
 * {@code expected}, {@code inOrder}: the reading thread's record of the chunks so far (only the
 * thread that holds the session's read role touches them).
 */
final class PendingCall {
  final String description;
  final Predicate<Reply> onReply;
  final CompletableFuture<Void> done = new CompletableFuture<>();
  final byte[] target;
  final boolean async;
  long expected;
  boolean inOrder = true;

  PendingCall(String description, Predicate<Reply> onReply, byte[] target, boolean async) {
    this.description = description;
    this.onReply = onReply;
    this.target = target;
    this.async = async;
  }
}
