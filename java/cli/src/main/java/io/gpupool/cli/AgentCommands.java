package io.gpupool.cli;

import io.gpupool.agent.AgentClient;
import io.gpupool.proto.v1.AgentReply;
import io.gpupool.proto.v1.AgentRequest;
import java.io.IOException;
import java.nio.file.Path;

/** What the commands that ask the agent one thing share. */
final class AgentCommands {
  private AgentCommands() {}

  static AgentReply call(Path socketOption, AgentRequest request) throws IOException {
    return AgentClient.call(AgentClient.socketPath(socketOption, System.getenv()), request);
  }

  /** The reply if it is of the expected kind; the agent's error (or the surprise) as an exception. */
  static AgentReply expect(AgentReply reply, AgentReply.ReplyCase expected) {
    if (reply.getReplyCase() == expected) return reply;
    if (reply.getReplyCase() == AgentReply.ReplyCase.ERROR) {
      throw new IllegalStateException(reply.getError().getMessage() + " (" + reply.getError().getCode() + ")");
    }
    throw new IllegalStateException("unexpected reply from the agent: " + reply.getReplyCase());
  }
}
