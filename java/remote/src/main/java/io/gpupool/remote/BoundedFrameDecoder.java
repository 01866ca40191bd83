package io.gpupool.remote;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.ByteToMessageDecoder;
import io.netty.handler.codec.CorruptedFrameException;
import io.netty.handler.codec.TooLongFrameException;
import java.util.List;

/**
 * Splits the byte stream into protobuf messages prefixed by their varint32 length, like Netty's
 * {@code ProtobufVarint32FrameDecoder}, but refuses a frame above a limit as soon as its length
 * is read, before buffering any of it: otherwise a peer announcing a 2 GiB frame would make the
 * worker buffer until it runs out of memory. The limit starts small (an Attach is tiny and the
 * peer is not authenticated yet) and is raised once the session is attached.
 */
final class BoundedFrameDecoder extends ByteToMessageDecoder {
  private volatile int maxBytes;

  BoundedFrameDecoder(int maxBytes) {
    this.maxBytes = maxBytes;
  }

  void maxBytes(int value) {
    maxBytes = value;
  }

  @Override
  protected void decode(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) {
    in.markReaderIndex();
    int length = 0;
    int shift = 0;
    for (int i = 0; ; i++) {
      if (!in.isReadable()) {
        in.resetReaderIndex();
        return; // the length itself is not complete yet
      }
      if (i == 5) throw new CorruptedFrameException("frame length: varint32 longer than 5 bytes");
      byte b = in.readByte();
      length |= (b & 0x7f) << shift;
      if (b >= 0) break;
      shift += 7;
    }
    if (length < 0) throw new CorruptedFrameException("frame length is negative: " + length);
    int max = maxBytes;
    if (length > max) {
      throw new TooLongFrameException("frame of " + length + " bytes is over the limit of " + max);
    }
    if (in.readableBytes() < length) {
      in.resetReaderIndex();
      return;
    }
    out.add(in.readRetainedSlice(length));
  }
}
