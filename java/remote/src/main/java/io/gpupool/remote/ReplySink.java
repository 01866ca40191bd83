package io.gpupool.remote;

import io.gpupool.proto.v1.Reply;

/**
 * Where a synchronous call's replies go. {@link #add} may block while the client is not reading
 * (the channel is not writable): that is how a large DtoH copy is streamed in chunks without
 * piling up in the worker's memory.
 */
interface ReplySink {
  void add(Reply reply);

  static Reply result(long seq, int result) {
    return Reply.newBuilder().setSeq(seq).setResult(result).build();
  }
}
