package io.gpupool.remote;

import com.google.protobuf.CodedInputStream;
import java.io.IOException;
import com.google.protobuf.UnsafeByteOperations;
import io.gpupool.proto.v1.ClientMessage;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.CorruptedFrameException;
import io.netty.handler.codec.DecoderException;
import io.netty.handler.codec.TooLongFrameException;
import io.netty.util.ReferenceCountUtil;

/**
 * Splits the byte stream into ClientMessages prefixed by their varint32 length (remote.proto's
 * framing), but refuses a frame above a limit as soon as its length is read, before buffering any
 * of it: otherwise a peer announcing a 2 GiB frame would make the worker buffer until it runs out
 * of memory. The limit starts small (an Attach is tiny and the peer is not authenticated yet) and
 * is raised once the session is attached.
 *
 * <p>No copies beyond one: a frame that arrived within one read is a slice of that read's
 * buffer; one that spans reads is gathered into a buffer of exactly its size (no growing
 * cumulation). With a {@link FrameReadAllocator}, the reads of such a frame's rest go straight
 * into that buffer ({@link #readTarget}), so a large frame is not copied at all. The message is
 * parsed in place with aliasing, so its {@code bytes} fields (HtoD data) are views of the frame:
 * each {@link InboundFrame} owns its frame buffer until released. Once attached, batches of
 * launches skip protobuf ({@link #decodeLaunches}).
 */
final class BoundedFrameDecoder extends ChannelInboundHandlerAdapter {
  /** A frame's rest of at least this many bytes is read straight into its buffer. */
  static final int DIRECT_READ_BYTES = 64 * 1024;

  private volatile int maxBytes;
  private boolean decodeLaunches; // set on the event loop, read there
  private int length = -1;     // the current frame's length once its prefix is read
  private int prefix;          // the length prefix read so far
  private int prefixBytes;
  private ByteBuf partial;     // the current frame's bytes when it spans reads
  private boolean failed;
  private ByteBuf target;      // the last buffer readTarget handed out

  BoundedFrameDecoder(int maxBytes) {
    this.maxBytes = maxBytes;
  }

  void maxBytes(int value) {
    maxBytes = value;
  }

  /**
   * From now on a frame that is a batch of launches only is decoded by {@link LaunchBatchDecoder}
   * and passed on as an InboundFrame without a message (once attached: only the session's
   * handler takes those). Called on the event loop.
   */
  void decodeLaunches() {
    decodeLaunches = true;
  }

  /**
   * A buffer for the next socket read: an empty view of the rest of the frame being gathered
   * (retained; the read hands it back through {@link #channelRead}), or null when no large rest
   * is pending. Called on the event loop by {@link FrameReadAllocator}.
   */
  ByteBuf readTarget() {
    if (failed || partial == null || partial.writableBytes() < DIRECT_READ_BYTES) return null;
    target = partial.retainedSlice(partial.writerIndex(), partial.writableBytes()).clear();
    return target;
  }

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    if (!(msg instanceof ByteBuf)) {
      ctx.fireChannelRead(msg);
      return;
    }
    ByteBuf in = (ByteBuf) msg;
    if (in == target) {
      target = null;
      readIntoFrame(ctx, in);
      return;
    }
    try {
      while (!failed && in.isReadable() && ctx.channel().isOpen()) {
        if (length < 0 && !readPrefix(in)) return;
        ByteBuf frame;
        if (partial == null) {
          if (in.readableBytes() >= length) {
            frame = length == 0 ? Unpooled.EMPTY_BUFFER : in.readRetainedSlice(length);
          } else {
            partial = ctx.alloc().directBuffer(length, length);
            partial.writeBytes(in);
            return;
          }
        } else {
          partial.writeBytes(in, Math.min(in.readableBytes(), partial.writableBytes()));
          if (partial.isWritable()) return;
          frame = partial;
          partial = null;
        }
        length = -1;
        emit(ctx, frame);
      }
    } catch (DecoderException e) {
      failed = true;
      ctx.fireExceptionCaught(e);
    } finally {
      in.release();
    }
  }

  /** The bytes of {@code in} were read in place, into the frame being gathered. */
  private void readIntoFrame(ChannelHandlerContext ctx, ByteBuf in) {
    try {
      if (failed || partial == null) return;
      partial.writerIndex(partial.writerIndex() + in.readableBytes());
      if (partial.isWritable()) return;
      ByteBuf frame = partial;
      partial = null;
      length = -1;
      emit(ctx, frame);
    } catch (DecoderException e) {
      failed = true;
      ctx.fireExceptionCaught(e);
    } finally {
      in.release();
    }
  }

  /** Reads the length prefix; false if it is not complete yet. */
  private boolean readPrefix(ByteBuf in) {
    while (in.isReadable()) {
      if (prefixBytes == 5) throw new CorruptedFrameException("frame length: varint32 longer than 5 bytes");
      byte b = in.readByte();
      prefix |= (b & 0x7f) << (7 * prefixBytes++);
      if (b >= 0) {
        int value = prefix;
        prefix = 0;
        prefixBytes = 0;
        if (value < 0) throw new CorruptedFrameException("frame length is negative: " + value);
        int max = maxBytes;
        if (value > max) throw new TooLongFrameException("frame of " + value + " bytes is over the limit of " + max);
        length = value;
        return true;
      }
    }
    return false;
  }

  private void emit(ChannelHandlerContext ctx, ByteBuf frame) {
    LaunchBatch launches = decodeLaunches ? LaunchBatchDecoder.decode(frame) : null;
    if (launches != null) {
      ctx.fireChannelRead(new InboundFrame(launches, frame));
      return;
    }
    ClientMessage message;
    try {
      CodedInputStream input = UnsafeByteOperations.unsafeWrap(frame.nioBuffer()).newCodedInput();
      input.enableAliasing(true);
      message = ClientMessage.parseFrom(input);
    } catch (IOException | RuntimeException e) {
      frame.release();
      throw new DecoderException(e);
    }
    ctx.fireChannelRead(new InboundFrame(message, frame));
  }

  @Override
  public void handlerRemoved(ChannelHandlerContext ctx) {
    ReferenceCountUtil.safeRelease(partial);
    partial = null;
  }

  @Override
  public void channelInactive(ChannelHandlerContext ctx) {
    ReferenceCountUtil.safeRelease(partial);
    partial = null;
    ctx.fireChannelInactive();
  }
}
