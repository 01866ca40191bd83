package io.gpupool.agent;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gpupool.proto.v1.AgentReply;
import io.gpupool.proto.v1.AgentRequest;
import io.gpupool.proto.v1.Error;
import io.gpupool.proto.v1.StatusRequest;
import io.gpupool.proto.v1.Submit;
import io.gpupool.region.DeviceRecord;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The Unix socket: both transports, and what it does with the socket file it finds. */
class LocalSocketServerTest {
  @TempDir Path dir;
  private Agent agent;

  @BeforeEach
  void start() throws Exception {
    agent = Agent.start(new AgentOptions(dir.resolve("unused.sock"), null, dir.resolve("state"),
        "sockettest-" + ProcessHandle.current().pid() + "-" + System.nanoTime(), true, Map.of(), 50),
        List.of(new DeviceRecord(1L << 30, new byte[16], "sim")));
  }

  @AfterEach
  void stop() throws IOException {
    Path table = agent.table().path();
    agent.close();
    Files.deleteIfExists(table);
  }

  private static AgentReply status(Path socket) throws IOException {
    return AgentClient.call(socket, AgentRequest.newBuilder().setStatus(StatusRequest.getDefaultInstance()).build());
  }

  @Test
  void epollKnowsWhoAsksAndTheSocketIsOpenToEveryUser() throws Exception {
    Path socket = dir.resolve("sub/agent.sock");
    try (LocalSocketServer server = LocalSocketServer.start(agent, socket)) {
      assertTrue(server.epoll(), "Netty's epoll transport loads on linux-x86_64");
      assertEquals("rw-rw-rw-", PosixFilePermissions.toString(Files.getPosixFilePermissions(socket)));
      assertEquals(1, status(socket).getStatus().getDevicesCount());
      AgentReply r = AgentClient.call(socket, AgentRequest.newBuilder()
          .setSubmit(Submit.newBuilder().setGpus(1).setMemoryBytes(1L << 20).setNoWait(true)).build());
      assertTrue(r.hasAdmitted(), r.toString());
    }
    assertFalse(Files.exists(socket), "close removes the socket file");
  }

  @Test
  void nioServesStatusButRefusesJobsItCannotAttributeToAUser() throws Exception {
    Path socket = dir.resolve("nio.sock");
    try (LocalSocketServer server = LocalSocketServer.start(agent, socket, false)) {
      assertFalse(server.epoll());
      assertEquals(1, status(socket).getStatus().getDevicesCount());
      AgentReply r = AgentClient.call(socket, AgentRequest.newBuilder()
          .setSubmit(Submit.newBuilder().setGpus(1).setMemoryBytes(1L << 20)).build());
      assertEquals(Error.Code.BAD_REQUEST, r.getError().getCode());
      assertTrue(r.getError().getMessage().contains("peer credentials"), r.toString());
    }
  }

  @Test
  void replacesTheSocketOfADeadAgentButNotALiveOne() throws Exception {
    Path socket = dir.resolve("agent.sock");
    // A socket file nobody listens on: what an agent killed with SIGKILL leaves.
    try (ServerSocketChannel dead = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
      dead.bind(UnixDomainSocketAddress.of(socket));
    }
    assertTrue(Files.exists(socket));
    try (LocalSocketServer server = LocalSocketServer.start(agent, socket)) {
      assertEquals(1, status(socket).getStatus().getDevicesCount());
      IOException second = assertThrows(IOException.class, () -> LocalSocketServer.start(agent, socket));
      assertTrue(second.getMessage().contains("another agent is serving " + socket), second.getMessage());
      assertEquals(1, status(socket).getStatus().getDevicesCount(), "the first agent still serves");
    }
  }

  @Test
  void refusesToReplaceAFileThatIsNotASocket() throws Exception {
    Path notASocket = dir.resolve("precious.txt");
    Files.writeString(notASocket, "data");
    IOException e = assertThrows(IOException.class, () -> LocalSocketServer.start(agent, notASocket));
    assertTrue(e.getMessage().contains("is not a socket"), e.getMessage());
    assertEquals("data", Files.readString(notASocket));
  }
}
