package io.gpupool.remote;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gpupool.proto.v1.Call;
import io.gpupool.proto.v1.CallBatch;
import io.gpupool.proto.v1.ClientMessage;
import io.gpupool.proto.v1.EventRecord;
import io.gpupool.proto.v1.MemcpyDtoD;
import io.gpupool.proto.v1.ServerMessage;
import java.io.ByteArrayOutputStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Random and mutated frames thrown at worker sessions, before and after Attach. Each bad session
 * must end (Refused or closed) and be freed, no exception may reach the end of a Netty pipeline
 * (Netty logs those) or escape the session thread, and afterwards a fresh session works.
 * {@code -Dgpupool.fuzz.seed=N} replays a run; {@code -Dgpupool.fuzz.sessions=N} runs more.
 */
class WorkerFuzzTest {
  static final byte[] SECRET = WorkerSessionTest.SECRET;
  static final WorkerLimits LIMITS = new WorkerLimits(64, 1 << 20, 64 * 1024, 10_000);

  private final List<LogRecord> nettyWarnings = new ArrayList<>();
  private final Handler capture = new Handler() {
    @Override
    public void publish(LogRecord r) {
      if (r.getLevel().intValue() >= Level.WARNING.intValue()) {
        synchronized (nettyWarnings) {
          nettyWarnings.add(r);
        }
      }
    }

    @Override
    public void flush() {}

    @Override
    public void close() {}
  };

  @BeforeEach
  void captureNettyWarnings() {
    Logger.getLogger("io.netty").addHandler(capture);
  }

  @AfterEach
  void release() {
    Logger.getLogger("io.netty").removeHandler(capture);
  }

  @Test
  void mutatedAndRandomFramesEndOnlyTheirSession() throws Exception {
    long seed = Long.getLong("gpupool.fuzz.seed", 20240605L);
    int sessions = Integer.getInteger("gpupool.fuzz.sessions", 150);
    Random random = new Random(seed);
    int refused = 0;
    for (int i = 0; i < sessions; i++) {
      WorkerServer server = WorkerServer.start("127.0.0.1", SECRET, LIMITS);
      try (RawClient c = new RawClient(server.address())) {
        boolean attach = random.nextInt(5) != 0;
        if (attach) {
          assertTrue(c.attach(SECRET).hasWelcome());
          c.call(Calls.alloc(4096));
          long d = c.reply().getHandle();
          byte[] valid = validBatch(c, d, random);
          for (int k = 1 + random.nextInt(3); k > 0; k--) c.sendRaw(mutate(valid, random));
        } else {
          c.sendRaw(garbage(random));
        }
        ServerMessage last = c.drainUntilClosed(150);
        if (last != null && last.hasRefused()) refused++;
      } catch (java.io.IOException e) {
        // the worker closed while we were still writing: an ending too
      }
      if (server.attached()) {
        server.finished().get(10, TimeUnit.SECONDS);
        assertEquals(0, server.liveHandles(), "session " + i + " (seed " + seed + ") freed");
      }
      server.close();
    }
    assertTrue(refused > sessions / 4, "most bad sessions were refused, not just dropped: " + refused);
    synchronized (nettyWarnings) {
      assertTrue(nettyWarnings.isEmpty(), "Netty warned: " + (nettyWarnings.isEmpty() ? "" : nettyWarnings.get(0).getMessage()));
    }
    assertEquals(0, Session.INTERNAL_ERRORS.get(), "no exception escaped a session thread");

    try (WorkerServer server = WorkerSessionTest.server(); RawClient c = RawClient.attached(server, SECRET)) {
      c.call(Calls.alloc(1024), Calls.sync());
      assertEquals(0, c.reply().getResult());
      assertEquals(0, c.reply().getResult());
    }
  }

  /** A frame of a plausible batch on the session's allocation, with the client's next seqs. */
  private static byte[] validBatch(RawClient c, long d, Random random) {
    if (random.nextInt(3) == 0) return validLaunches(c, random);
    byte[] data = new byte[1 + random.nextInt(512)];
    random.nextBytes(data);
    List<Call.Builder> calls = new ArrayList<>(List.of(
        Calls.htod(d, random.nextInt(1024), data, 0, data.length),
        Calls.memset(d, random.nextInt(), 4, 1 + random.nextInt(1000)),
        Call.newBuilder().setMemcpyDtod(MemcpyDtoD.newBuilder().setDst(d).setSrc(d + 2048).setBytes(1024)),
        Calls.eventCreate(),
        Call.newBuilder().setEventRecord(EventRecord.newBuilder().setEvent(0x10000)),
        Calls.streamCreate(),
        Calls.alloc(1 + random.nextInt(1 << 16)),
        Calls.free(d + 16),
        Calls.dtoh(d, 1 + random.nextInt(4096)),
        Calls.info(),
        Calls.barrier(),
        Calls.sync()));
    java.util.Collections.shuffle(calls, random);
    CallBatch.Builder batch = CallBatch.newBuilder();
    long seq = c.nextSeq();
    for (Call.Builder call : calls.subList(0, 1 + random.nextInt(calls.size()))) batch.addCalls(call.setSeq(seq++));
    c.skipSeq(seq - c.nextSeq());
    return ClientMessage.newBuilder().setCalls(batch).build().toByteArray();
  }

  /** A frame of launches only (the worker decodes those without protobuf: LaunchBatchDecoder). */
  private static byte[] validLaunches(RawClient c, Random random) {
    CallBatch.Builder batch = CallBatch.newBuilder();
    long seq = c.nextSeq();
    for (int k = 1 + random.nextInt(8); k > 0; k--) {
      byte[] params = new byte[random.nextInt(40)];
      random.nextBytes(params);
      batch.addCalls(Calls.launch(random.nextInt(3) == 0 ? random.nextLong() : random.nextInt(1 << 17),
          random.nextInt(4), random.nextInt(2048), params).setSeq(seq++));
    }
    c.skipSeq(seq - c.nextSeq());
    return ClientMessage.newBuilder().setCalls(batch).build().toByteArray();
  }

  private static byte[] mutate(byte[] body, Random random) {
    byte[] b = body.clone();
    switch (random.nextInt(6)) {
      case 0: // bit flips
        for (int k = 1 + random.nextInt(8); k > 0; k--) b[random.nextInt(b.length)] ^= (byte) (1 << random.nextInt(8));
        return RawClient.frame(b);
      case 1: // truncated body, honest length
        return RawClient.frame(java.util.Arrays.copyOf(b, random.nextInt(b.length)));
      case 2: { // a length that does not match the body
        byte[] header = RawClient.frame(new byte[0]);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        int length = random.nextInt(200_000);
        while ((length & ~0x7f) != 0) {
          out.write((length & 0x7f) | 0x80);
          length >>>= 7;
        }
        out.write(length);
        out.write(b, 0, b.length);
        return header.length == 1 ? out.toByteArray() : b;
      }
      case 3: // random bytes spliced in
        byte[] splice = new byte[1 + random.nextInt(16)];
        random.nextBytes(splice);
        int at = random.nextInt(b.length);
        byte[] spliced = new byte[b.length + splice.length];
        System.arraycopy(b, 0, spliced, 0, at);
        System.arraycopy(splice, 0, spliced, at, splice.length);
        System.arraycopy(b, at, spliced, at + splice.length, b.length - at);
        return RawClient.frame(spliced);
      case 4: // the bytes themselves as a frame stream
        return b;
      default:
        return garbage(random);
    }
  }

  private static byte[] garbage(Random random) {
    byte[] g = new byte[random.nextInt(300)];
    random.nextBytes(g);
    return random.nextBoolean() ? RawClient.frame(g) : g;
  }
}
