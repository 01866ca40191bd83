package io.gpupool.remote;

import com.google.protobuf.ByteString;
import io.gpupool.proto.v1.Reply;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;

/**
 * Where a synchronous call's replies go. {@link #add} and {@link #addData} may block while the
 * client is not reading (the channel is not writable): that is how a large DtoH copy is streamed
 * in chunks without piling up in the worker's memory.
 */
interface ReplySink {
  void add(Reply reply);

  /** A direct buffer with room for {@code bytes} bytes of a DtoH chunk, for {@link #addData}. */
  default ByteBuf buffer(int bytes) {
    return Unpooled.directBuffer(bytes, bytes);
  }

  /**
   * A successful DtoH chunk: the Reply {seq, data, offset, last} with {@code data}'s readable
   * bytes as its data. Takes ownership of {@code data} (it is released once sent).
   */
  default void addData(long seq, long offset, boolean last, ByteBuf data) {
    try {
      add(Reply.newBuilder().setSeq(seq).setData(ByteString.copyFrom(data.nioBuffer())).setOffset(offset)
          .setLast(last).build());
    } finally {
      data.release();
    }
  }

  static Reply result(long seq, int result) {
    return Reply.newBuilder().setSeq(seq).setResult(result).build();
  }
}
