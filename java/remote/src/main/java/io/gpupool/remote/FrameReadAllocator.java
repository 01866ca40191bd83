package io.gpupool.remote;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.channel.RecvByteBufAllocator;
import io.netty.util.UncheckedBooleanSupplier;

/**
 * The socket read buffers of one worker connection: while the {@link BoundedFrameDecoder} is
 * gathering a large frame (an HtoD chunk), the next read goes straight into the rest of that
 * frame's buffer instead of into a fresh read buffer that the decoder would then copy from. A
 * 1 MiB chunk so costs the kernel's copy out of the socket and nothing else until the driver
 * copies it to the device. Otherwise reads get the buffers of {@code delegate}.
 *
 * <p>Only for a pipeline whose decoder sees the socket's bytes as they are (no TLS in front of
 * it). One instance per channel (it knows that channel's decoder); used on its event loop.
 */
final class FrameReadAllocator implements RecvByteBufAllocator {
  private final RecvByteBufAllocator delegate;
  private final BoundedFrameDecoder decoder;

  FrameReadAllocator(RecvByteBufAllocator delegate, BoundedFrameDecoder decoder) {
    this.delegate = delegate;
    this.decoder = decoder;
  }

  @Override
  public Handle newHandle() {
    return new FrameHandle((ExtendedHandle) delegate.newHandle());
  }

  /** The delegate's handle (read sizes, when to stop reading), with the decoder's buffer first. */
  private final class FrameHandle extends DelegatingHandle implements ExtendedHandle {
    FrameHandle(ExtendedHandle delegate) {
      super(delegate);
    }

    @Override
    public ByteBuf allocate(ByteBufAllocator alloc) {
      ByteBuf target = decoder.readTarget();
      return target != null ? target : delegate().allocate(alloc);
    }

    @Override
    public boolean continueReading(UncheckedBooleanSupplier maybeMoreDataSupplier) {
      return ((ExtendedHandle) delegate()).continueReading(maybeMoreDataSupplier);
    }
  }
}
