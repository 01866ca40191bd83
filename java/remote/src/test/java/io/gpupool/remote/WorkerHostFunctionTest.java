package io.gpupool.remote;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gpupool.proto.v1.Call;
import io.gpupool.proto.v1.ClientMessage;
import io.gpupool.proto.v1.EventQuery;
import io.gpupool.proto.v1.EventRecord;
import io.gpupool.proto.v1.HostFuncDone;
import io.gpupool.proto.v1.LaunchHostFunc;
import io.gpupool.proto.v1.Refused;
import io.gpupool.proto.v1.ServerMessage;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** Host-function gates (remote.proto, LaunchHostFunc) as a client sees them on the wire. */
class WorkerHostFunctionTest {
  static final byte[] SECRET = WorkerSessionTest.SECRET;

  static Call.Builder gate(long stream, long id) {
    return Call.newBuilder().setLaunchHostFunc(LaunchHostFunc.newBuilder().setStream(stream).setId(id));
  }

  static ClientMessage done(long id) {
    return ClientMessage.newBuilder().setHostFuncDone(HostFuncDone.newBuilder().setId(id)).build();
  }

  @Test
  void laterWorkOnTheStreamWaitsForTheClientsAnswer() throws Exception {
    try (WorkerServer server = WorkerSessionTest.server(); RawClient c = RawClient.attached(server, SECRET)) {
      c.call(Calls.streamCreate(), Calls.eventCreate());
      long stream = c.reply().getHandle();
      long event = c.reply().getHandle();
      // The gate, then an event behind it: the stream reaches the gate at once (nothing before it).
      c.call(gate(stream, 7),
          Call.newBuilder().setEventRecord(EventRecord.newBuilder().setEvent(event).setStream(stream)));
      ServerMessage ready = c.read();
      assertTrue(ready.hasHostFuncReady(), "expected HostFuncReady, got " + ready);
      assertEquals(7, ready.getHostFuncReady().getId());
      assertEquals(0, ready.getHostFuncReady().getResult());

      // Unanswered, the event behind the gate stays pending, however often it is asked.
      for (int i = 0; i < 3; i++) {
        c.call(Call.newBuilder().setEventQuery(EventQuery.newBuilder().setEvent(event)));
        assertEquals(CudaResult.NOT_READY, c.reply().getResult());
      }
      // Answered, it completes; a synchronising call in flight meanwhile is no obstacle.
      c.call(Calls.Stream.sync(stream));
      c.send(done(7));
      assertEquals(0, c.reply().getResult());
      c.call(Call.newBuilder().setEventQuery(EventQuery.newBuilder().setEvent(event)));
      assertEquals(0, c.reply().getResult());
    }
  }

  @Test
  void aGateOnAForeignStreamIsReportedAndNeverWaitsForAnAnswer() throws Exception {
    try (WorkerServer server = WorkerSessionTest.server(); RawClient c = RawClient.attached(server, SECRET)) {
      long s = c.call(gate(0x999990, 3));
      ServerMessage ready = c.read();
      assertEquals(3, ready.getHostFuncReady().getId());
      assertEquals(CudaResult.INVALID_HANDLE, ready.getHostFuncReady().getResult());
      c.call(Calls.sync());
      var r = c.reply();
      assertEquals(CudaResult.INVALID_HANDLE, r.getResult());
      assertEquals(s, r.getDeferredSeq());
    }
  }

  @Test
  void anAnswerToNoWaitingGateIsRefused() throws Exception {
    try (WorkerServer server = WorkerSessionTest.server(); RawClient c = RawClient.attached(server, SECRET)) {
      c.send(done(42));
      ServerMessage m = c.drainUntilClosed(10_000);
      assertEquals(Refused.Reason.BAD_REQUEST, m.getRefused().getReason());
      assertTrue(m.getRefused().getMessage().contains("42"), m.getRefused().getMessage());
    }
  }

  @Test
  void aClientThatLeavesWithoutAnsweringDoesNotHoldTheWorker() throws Exception {
    WorkerServer server = WorkerSessionTest.server();
    try (RawClient c = RawClient.attached(server, SECRET)) {
      c.call(Calls.streamCreate());
      long stream = c.reply().getHandle();
      c.call(gate(stream, 1), Calls.Stream.sync(stream));
      assertTrue(c.read().hasHostFuncReady());
    }
    server.finished().get(30, TimeUnit.SECONDS);
    assertEquals(0, server.liveHandles());
  }
}
