package io.gpupool.agent;

import io.gpupool.proto.v1.AgentReply;

/** Where the agent's replies to a waiting or running job's `gpupool run` go. */
interface JobConnection {
  /** Sends a reply; a no-op once the connection is closed. Any thread. */
  void send(AgentReply reply);

  /** Sends a last reply, then closes. Any thread. */
  void sendAndClose(AgentReply reply);

  /** Closes without a reply (the job ended). Any thread. */
  void close();
}
