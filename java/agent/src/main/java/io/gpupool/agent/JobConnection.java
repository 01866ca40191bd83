package io.gpupool.agent;

import io.gpupool.proto.v1.AgentReply;

/** Where the agent's replies to a waiting or running job's `gpupool run` go. */
public interface JobConnection {
  /** Sends a reply; a no-op once the connection is closed. Any thread. */
  void send(AgentReply reply);

  /** Sends a last reply, then closes. Any thread. */
  void sendAndClose(AgentReply reply);

  /** Closes without a reply (the job ended). Any thread. */
  void close();

  /**
   * Whether the peer is still connected. The agent may learn of a close before it knows the
   * connection's job (a client that hangs up right after asking), so liveness asks this.
   */
  boolean isOpen();
}
