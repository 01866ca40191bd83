package io.gpupool.agent;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.ByteToMessageDecoder;
import io.netty.handler.codec.CorruptedFrameException;
import io.netty.handler.codec.TooLongFrameException;
import java.util.List;

/**
 * Splits the byte stream into protobuf messages prefixed by their varint32 length, refusing
 * frames above a limit before buffering them.
 *
 * <pre>
 * BEFORE DECODE (302 bytes)       AFTER DECODE (300 bytes)
 * +--------+---------------+      +---------------+
 * | Length | Protobuf Data |----->| Protobuf Data |
 * | 0xAC02 |  (300 bytes)  |      |  (300 bytes)  |
 * +--------+---------------+      +---------------+
 * </pre>
 *
 * Netty's {@code ProtobufVarint32FrameDecoder} has no limit: a peer announcing a 2 GiB frame
 * would make the agent buffer until it runs out of memory. Here a length above {@code maxBytes},
 * a varint longer than 5 bytes, or a negative length raises an exception that the handler turns
 * into an error reply, and nothing of the frame is kept.
 */
public final class BoundedVarint32FrameDecoder extends ByteToMessageDecoder {
  private final int maxBytes;

  public BoundedVarint32FrameDecoder(int maxBytes) {
    this.maxBytes = maxBytes;
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
    if (length > maxBytes) {
      throw new TooLongFrameException("frame of " + length + " bytes is over the limit of " + maxBytes);
    }
    if (in.readableBytes() < length) {
      in.resetReaderIndex();
      return;
    }
    out.add(in.readRetainedSlice(length));
  }
}
