package io.gpupool.remote;

import io.gpupool.proto.v1.ClientMessage;
import io.netty.buffer.ByteBuf;

/**
 * A decoded ClientMessage and the frame it was parsed from in place: its {@code bytes} fields
 * are views of {@code frame}, so whoever takes it calls {@link #release} once the message (and
 * every ByteString of it) is no longer used.
 */
record InboundFrame(ClientMessage message, ByteBuf frame) {
  void release() {
    frame.release();
  }
}
