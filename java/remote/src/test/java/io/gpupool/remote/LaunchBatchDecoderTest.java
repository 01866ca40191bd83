package io.gpupool.remote;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import com.google.protobuf.InvalidProtocolBufferException;
import io.gpupool.proto.v1.Call;
import io.gpupool.proto.v1.CallBatch;
import io.gpupool.proto.v1.ClientMessage;
import io.gpupool.proto.v1.HostFuncDone;
import io.gpupool.proto.v1.LaunchKernel;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * LaunchBatchDecoder against protobuf (protoc's generated Java code): on frames protobuf wrote,
 * it decodes exactly what protobuf parses; on anything else it answers null, and on random
 * mutations of valid frames whatever it accepts is what protobuf parses too.
 */
class LaunchBatchDecoderTest {
  private static final long SEED = Long.getLong("gpupool.fuzz.seed", 20261127L);

  @Test
  void decodesWhatProtobufWrote() throws Exception {
    Random random = new Random(SEED);
    for (int i = 0; i < 2000; i++) {
      byte[] frame = launches(random, 1 + random.nextInt(70));
      LaunchBatch b = LaunchBatchDecoder.decode(Unpooled.wrappedBuffer(frame));
      assertNotNull(b, "a batch of launches");
      assertSame(ClientMessage.parseFrom(frame), b);
    }
  }

  @Test
  void protobufDefaultsAndLimits() throws Exception {
    // Every field absent (proto3 defaults: no bytes at all for the LaunchKernel), then every
    // field at its largest value.
    LaunchKernel max = LaunchKernel.newBuilder().setFunction(-1L).setGridX(-1).setGridY(-1).setGridZ(-1)
        .setBlockX(-1).setBlockY(-1).setBlockZ(-1).setSharedBytes(-1).setStream(-1L)
        .setParams(ByteString.copyFrom(new byte[300])).build();
    for (LaunchKernel k : new LaunchKernel[] {LaunchKernel.getDefaultInstance(), max}) {
      byte[] frame = ClientMessage.newBuilder()
          .setCalls(CallBatch.newBuilder().addCalls(Call.newBuilder().setLaunchKernel(k))).build().toByteArray();
      LaunchBatch b = LaunchBatchDecoder.decode(Unpooled.wrappedBuffer(frame));
      assertNotNull(b);
      assertSame(ClientMessage.parseFrom(frame), b);
    }
  }

  @Test
  void framesAreReadFromWhereTheyStart() throws Exception {
    byte[] frame = launches(new Random(SEED), 5);
    ByteBuf padded = Unpooled.buffer(frame.length + 37).writeZero(37).writeBytes(frame);
    padded.readerIndex(37);
    LaunchBatch b = LaunchBatchDecoder.decode(padded);
    assertNotNull(b);
    assertSame(ClientMessage.parseFrom(frame), b);
  }

  @Test
  void anythingButLaunchesOnlyIsLeftToProtobuf() {
    Call launch = Call.newBuilder().setSeq(7).setLaunchKernel(LaunchKernel.newBuilder().setFunction(3)).build();
    byte[][] others = {
        ClientMessage.newBuilder().setCalls(CallBatch.newBuilder().addCalls(launch).addCalls(Calls.sync().setSeq(8)))
            .build().toByteArray(),
        ClientMessage.newBuilder().setCalls(CallBatch.getDefaultInstance()).build().toByteArray(),
        ClientMessage.newBuilder().setHostFuncDone(HostFuncDone.newBuilder().setId(1)).build().toByteArray(),
        new byte[0],
        // the CallBatch twice (protobuf merges them), a launch with an unknown field, seq twice
        concat(ClientMessage.newBuilder().setCalls(CallBatch.newBuilder().addCalls(launch)).build().toByteArray(),
            ClientMessage.newBuilder().setCalls(CallBatch.newBuilder().addCalls(launch)).build().toByteArray()),
        ClientMessage.newBuilder().setCalls(CallBatch.newBuilder().addCalls(launch.toBuilder().setLaunchKernel(
            launch.getLaunchKernel().toBuilder().setUnknownFields(com.google.protobuf.UnknownFieldSet.newBuilder()
                .addField(11, com.google.protobuf.UnknownFieldSet.Field.newBuilder().addVarint(1).build()).build()))))
            .build().toByteArray(),
        concat(new byte[] {0x1a, 6, 0x0a, 4, 0x08, 1, 0x08, 2}, new byte[0]),
    };
    for (byte[] frame : others) {
      assertNull(LaunchBatchDecoder.decode(Unpooled.wrappedBuffer(frame)), Arrays.toString(frame));
    }
  }

  @Test
  void largeFramesAreLeftToProtobuf() {
    byte[] frame = launches(new Random(SEED), LaunchBatchDecoder.MAX_FRAME_BYTES / 16);
    assertTrue(frame.length > LaunchBatchDecoder.MAX_FRAME_BYTES, "the frame is large: " + frame.length);
    assertNull(LaunchBatchDecoder.decode(Unpooled.wrappedBuffer(frame)));
    assertNotNull(LaunchBatchDecoder.decode(frame), "the same launches, were they small enough");
  }

  @Test
  void mutatedFramesAreDecodedAsProtobufParsesThemOrNotAtAll() throws Exception {
    Random random = new Random(SEED);
    int accepted = 0, rejected = 0;
    for (int i = 0; i < 200_000; i++) {
      byte[] frame = mutate(launches(random, 1 + random.nextInt(4)), random);
      LaunchBatch b = LaunchBatchDecoder.decode(Unpooled.wrappedBuffer(frame));
      if (b == null) {
        rejected++;
        continue;
      }
      accepted++;
      ClientMessage parsed;
      try {
        parsed = ClientMessage.parseFrom(frame);
      } catch (InvalidProtocolBufferException e) {
        throw new AssertionError("accepted a frame protobuf refuses: " + Arrays.toString(frame), e);
      }
      assertSame(parsed, b);
    }
    assertTrue(accepted > 1000 && rejected > 1000, "both kinds were tried: " + accepted + " accepted, " + rejected + " rejected");
  }

  /** {@code b} holds exactly the launches of {@code parsed}. */
  private static void assertSame(ClientMessage parsed, LaunchBatch b) {
    assertTrue(parsed.hasCalls());
    assertEquals(parsed.getCalls().getCallsCount(), b.count());
    for (int i = 0; i < b.count(); i++) {
      Call call = parsed.getCalls().getCalls(i);
      assertEquals(Call.OpCase.LAUNCH_KERNEL, call.getOpCase());
      assertTrue(call.getUnknownFields().asMap().isEmpty() && call.getLaunchKernel().getUnknownFields().asMap().isEmpty());
      LaunchKernel k = call.getLaunchKernel();
      assertEquals(call.getSeq(), b.get(i, LaunchBatch.SEQ));
      assertEquals(k.getFunction(), b.get(i, LaunchBatch.FUNCTION));
      assertEquals(k.getGridX(), b.getInt(i, LaunchBatch.GRID_X));
      assertEquals(k.getGridY(), b.getInt(i, LaunchBatch.GRID_Y));
      assertEquals(k.getGridZ(), b.getInt(i, LaunchBatch.GRID_Z));
      assertEquals(k.getBlockX(), b.getInt(i, LaunchBatch.BLOCK_X));
      assertEquals(k.getBlockY(), b.getInt(i, LaunchBatch.BLOCK_Y));
      assertEquals(k.getBlockZ(), b.getInt(i, LaunchBatch.BLOCK_Z));
      assertEquals(k.getSharedBytes(), b.getInt(i, LaunchBatch.SHARED_BYTES));
      assertEquals(k.getStream(), b.get(i, LaunchBatch.STREAM));
      int at = (int) b.get(i, LaunchBatch.PARAMS_INDEX);
      byte[] params = Arrays.copyOfRange(b.bytes(), at, at + (int) b.get(i, LaunchBatch.PARAMS_LENGTH));
      assertArrayEquals(k.getParams().toByteArray(), params);
    }
  }

  /** ClientMessage{calls} of {@code n} launches with random fields (zeros, small, any 32/64-bit value). */
  private static byte[] launches(Random random, int n) {
    CallBatch.Builder batch = CallBatch.newBuilder();
    long seq = random.nextInt(3) == 0 ? 0 : random.nextLong();
    for (int i = 0; i < n; i++) {
      byte[] params = new byte[random.nextInt(4) == 0 ? 0 : random.nextInt(200)];
      random.nextBytes(params);
      LaunchKernel k = LaunchKernel.newBuilder().setFunction(any64(random)).setGridX(any32(random))
          .setGridY(any32(random)).setGridZ(any32(random)).setBlockX(any32(random)).setBlockY(any32(random))
          .setBlockZ(any32(random)).setSharedBytes(any32(random)).setStream(any64(random))
          .setParams(ByteString.copyFrom(params)).build();
      batch.addCalls(Call.newBuilder().setSeq(seq++).setLaunchKernel(k));
    }
    return ClientMessage.newBuilder().setCalls(batch).build().toByteArray();
  }

  private static long any64(Random random) {
    switch (random.nextInt(3)) {
      case 0: return 0;
      case 1: return random.nextInt(1 << 16);
      default: return random.nextLong();
    }
  }

  private static int any32(Random random) {
    return (int) any64(random);
  }

  private static byte[] mutate(byte[] b, Random random) {
    b = b.clone();
    switch (random.nextInt(5)) {
      case 0: // bit flips
        for (int k = 1 + random.nextInt(3); k > 0; k--) b[random.nextInt(b.length)] ^= (byte) (1 << random.nextInt(8));
        return b;
      case 1: // truncated
        return Arrays.copyOf(b, random.nextInt(b.length));
      case 2: { // random bytes spliced in
        byte[] splice = new byte[1 + random.nextInt(6)];
        random.nextBytes(splice);
        int at = random.nextInt(b.length + 1);
        return concat(concat(Arrays.copyOf(b, at), splice), Arrays.copyOfRange(b, at, b.length));
      }
      case 3: { // a byte set to a varint continuation or a small value (lengths, tags)
        int at = random.nextInt(b.length);
        b[at] = (byte) (random.nextBoolean() ? 0x80 | random.nextInt(128) : random.nextInt(128));
        return b;
      }
      default: { // a stretch duplicated (fields twice)
        int from = random.nextInt(b.length), to = from + random.nextInt(b.length - from + 1);
        return concat(concat(Arrays.copyOf(b, to), Arrays.copyOfRange(b, from, to)), Arrays.copyOfRange(b, to, b.length));
      }
    }
  }

  private static byte[] concat(byte[] a, byte[] b) {
    byte[] out = Arrays.copyOf(a, a.length + b.length);
    System.arraycopy(b, 0, out, a.length, b.length);
    return out;
  }
}
