package io.gpupool.remote;

import com.google.protobuf.CodedOutputStream;
import com.google.protobuf.MessageLite;
import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.MessageToByteEncoder;
import java.io.IOException;
import java.nio.ByteBuffer;

/**
 * remote.proto's framing on the way out: the varint32 length and the message, serialised once
 * straight into one buffer of exactly that size. ByteBufs pass through untouched: they are
 * frames already (the DtoH chunks {@link ReplyWriter} frames around the copied device data).
 */
@ChannelHandler.Sharable
final class FrameEncoder extends MessageToByteEncoder<MessageLite> {
  static final FrameEncoder INSTANCE = new FrameEncoder();

  private FrameEncoder() {
    super(MessageLite.class);
  }

  @Override
  protected ByteBuf allocateBuffer(ChannelHandlerContext ctx, MessageLite msg, boolean preferDirect) {
    int size = msg.getSerializedSize();
    int framed = CodedOutputStream.computeUInt32SizeNoTag(size) + size;
    return ctx.alloc().directBuffer(framed, framed);
  }

  @Override
  protected void encode(ChannelHandlerContext ctx, MessageLite msg, ByteBuf out) throws IOException {
    int size = msg.getSerializedSize();
    int framed = CodedOutputStream.computeUInt32SizeNoTag(size) + size;
    ByteBuffer target = out.nioBuffer(out.writerIndex(), framed);
    CodedOutputStream coded = CodedOutputStream.newInstance(target);
    coded.writeUInt32NoTag(size);
    msg.writeTo(coded);
    coded.flush();
    out.writerIndex(out.writerIndex() + framed);
  }
}
