package io.gpupool.agent;

/**
 * Who is on the other end of a socket connection, as the kernel says (SO_PEERCRED), never as the
 * peer says. {@code uid} and {@code pid} are -1 when the transport cannot tell (NIO fallback).
 */
record Peer(int uid, int pid) {
  static final Peer UNKNOWN = new Peer(-1, -1);

  boolean known() {
    return uid >= 0 && pid > 0;
  }

  boolean isRoot() {
    return uid == 0;
  }
}
