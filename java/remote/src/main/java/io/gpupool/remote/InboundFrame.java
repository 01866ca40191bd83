package io.gpupool.remote;

import io.gpupool.proto.v1.ClientMessage;
import io.netty.buffer.ByteBuf;

/**
 * A decoded frame and the buffer it was decoded from in place: either a ClientMessage (its
 * {@code bytes} fields are views of {@code frame}) or, for a batch of kernel launches once the
 * session is attached, a {@link LaunchBatch} (decoded from a copy of the frame's bytes); the
 * other is null. Whoever takes it calls {@link #release} once neither is used any more.
 */
record InboundFrame(ClientMessage message, LaunchBatch launches, ByteBuf frame) {
  InboundFrame(ClientMessage message, ByteBuf frame) {
    this(message, null, frame);
  }

  InboundFrame(LaunchBatch launches, ByteBuf frame) {
    this(null, launches, frame);
  }

  void release() {
    frame.release();
  }
}
