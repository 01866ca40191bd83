package io.gpupool.agent;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.CorruptedFrameException;
import io.netty.handler.codec.TooLongFrameException;
import org.junit.jupiter.api.Test;

class BoundedVarint32FrameDecoderTest {
  @Test
  void reassemblesAFrameFedInPieces() {
    EmbeddedChannel ch = new EmbeddedChannel(new BoundedVarint32FrameDecoder(1024));
    byte[] body = new byte[300];
    for (int i = 0; i < body.length; i++) body[i] = (byte) i;
    // 300 = 0xAC 0x02 as a varint32.
    ch.writeInbound(Unpooled.wrappedBuffer(new byte[] {(byte) 0xAC}));
    assertNull(ch.readInbound(), "half a length is not a frame");
    ch.writeInbound(Unpooled.wrappedBuffer(new byte[] {0x02}));
    ch.writeInbound(Unpooled.wrappedBuffer(body, 0, 299));
    assertNull(ch.readInbound(), "299 of 300 bytes is not a frame");
    ch.writeInbound(Unpooled.wrappedBuffer(body, 299, 1));
    ByteBuf frame = ch.readInbound();
    assertEquals(300, frame.readableBytes());
    assertEquals((byte) 299, frame.getByte(299));
    frame.release();
    ch.finishAndReleaseAll();
  }

  @Test
  void twoFramesInOneBuffer() {
    EmbeddedChannel ch = new EmbeddedChannel(new BoundedVarint32FrameDecoder(1024));
    ch.writeInbound(Unpooled.wrappedBuffer(new byte[] {1, 'a', 2, 'b', 'c'}));
    ByteBuf a = ch.readInbound();
    ByteBuf bc = ch.readInbound();
    assertEquals(1, a.readableBytes());
    assertEquals(2, bc.readableBytes());
    a.release();
    bc.release();
  }

  @Test
  void refusesAFrameOverTheLimitBeforeItArrives() {
    EmbeddedChannel ch = new EmbeddedChannel(new BoundedVarint32FrameDecoder(1024));
    // 2^31-1 announced, nothing of it sent.
    ByteBuf huge = Unpooled.wrappedBuffer(new byte[] {(byte) 0xFF, (byte) 0xFF, (byte) 0xFF, (byte) 0xFF, 0x07});
    TooLongFrameException e = assertThrows(TooLongFrameException.class, () -> ch.writeInbound(huge));
    assertEquals("frame of 2147483647 bytes is over the limit of 1024", e.getMessage());
  }

  @Test
  void refusesAVarintLongerThanFiveBytes() {
    EmbeddedChannel ch = new EmbeddedChannel(new BoundedVarint32FrameDecoder(1024));
    byte[] six = {(byte) 0x80, (byte) 0x80, (byte) 0x80, (byte) 0x80, (byte) 0x80, 0x01};
    assertThrows(CorruptedFrameException.class, () -> ch.writeInbound(Unpooled.wrappedBuffer(six)));
  }

  @Test
  void refusesANegativeLength() {
    EmbeddedChannel ch = new EmbeddedChannel(new BoundedVarint32FrameDecoder(1024));
    byte[] negative = {(byte) 0xFF, (byte) 0xFF, (byte) 0xFF, (byte) 0xFF, 0x0F};
    assertThrows(CorruptedFrameException.class, () -> ch.writeInbound(Unpooled.wrappedBuffer(negative)));
  }
}
