package io.gpupool.remote;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gpupool.proto.v1.Reply;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * A client that asks for far more data than the socket buffers hold and then stops reading: the
 * worker stalls on writability instead of queueing replies, and when the client reads again every
 * chunk arrives, in order.
 */
class BackpressureTest {
  @Test
  void aStalledReaderGetsEverythingWhenItReadsAgain() throws Exception {
    int copies = 96; // 96 MiB of replies
    try (WorkerServer server = WorkerSessionTest.server(); RawClient c = RawClient.attached(server, WorkerSessionTest.SECRET)) {
      c.call(Calls.alloc(MemoryCalls.CHUNK));
      long d = c.reply().getHandle();
      c.call(Calls.memset(d, 0x01020304, 4, MemoryCalls.CHUNK / 4));
      long first = c.nextSeq();
      for (int i = 0; i < copies; i++) c.call(Calls.dtoh(d, MemoryCalls.CHUNK));
      Thread.sleep(1000); // the worker can now only have sent what the buffers hold
      for (int i = 0; i < copies; i++) {
        List<Reply> chunks = c.chunks();
        assertEquals(1, chunks.size());
        Reply r = chunks.get(0);
        assertEquals(first + i, r.getSeq());
        assertEquals(0, r.getResult());
        assertEquals(MemoryCalls.CHUNK, r.getData().size());
        assertTrue(r.getData().byteAt(0) == 0x04 && r.getData().byteAt(3) == 0x01);
      }
      c.call(Calls.barrier());
      assertEquals(0, c.reply().getResult());
    }
  }
}
