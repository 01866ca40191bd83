package io.gpupool.agent.remote;

import com.google.protobuf.ByteString;
import io.gpupool.agent.Agent;
import io.gpupool.agent.Job;
import io.gpupool.agent.JobConnection;
import io.gpupool.proto.v1.AgentReply;
import io.gpupool.proto.v1.ClientMessage;
import io.gpupool.proto.v1.Error;
import io.gpupool.proto.v1.Hello;
import io.gpupool.proto.v1.Redirect;
import io.gpupool.proto.v1.Refused;
import io.gpupool.proto.v1.RemoteLimits;
import io.gpupool.proto.v1.ServerMessage;
import io.gpupool.proto.v1.Submit;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.SimpleChannelInboundHandler;
import java.net.InetSocketAddress;
import java.security.SecureRandom;
import java.util.Optional;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.logging.Logger;

/**
 * The agent's half of a remote session: Hello in; the token checked before anything else; the
 * session admitted as a job (Queued while it waits); a worker started under the shim with the
 * session's quota; Redirect out. The connection then closes: the worker's process is what keeps
 * the job alive, and its exit ends it.
 */
final class RemoteHandshakeHandler extends SimpleChannelInboundHandler<ClientMessage> {
  private static final Logger LOG = Logger.getLogger(RemoteHandshakeHandler.class.getName());
  private static final SecureRandom RANDOM = new SecureRandom();
  /** Removed once the Hello came: a session waiting in the queue sends nothing for a long time. */
  static final String HELLO_TIMEOUT = "hello-timeout";
  /** How long a started worker waits for the agent's core thread to record it (it is idle then). */
  private static final long LAUNCHER_RECORD_TIMEOUT_S = 30;

  private final Agent agent;
  private final RemoteOptions options;
  private final ExecutorService launches;
  private volatile Job job;
  private boolean helloSeen;

  RemoteHandshakeHandler(Agent agent, RemoteOptions options, ExecutorService launches) {
    this.agent = agent;
    this.options = options;
    this.launches = launches;
  }

  @Override
  protected void channelRead0(ChannelHandlerContext ctx, ClientMessage message) throws Exception {
    if (helloSeen || message.getMessageCase() != ClientMessage.MessageCase.HELLO) {
      refuse(ctx.channel(), Refused.Reason.BAD_REQUEST, helloSeen ? "one Hello per connection" : "expected Hello");
      return;
    }
    helloSeen = true;
    if (ctx.pipeline().get(HELLO_TIMEOUT) != null) ctx.pipeline().remove(HELLO_TIMEOUT);
    Hello hello = message.getHello();
    Optional<String> tokenName = options.tokens().check(hello.getToken());
    if (tokenName.isEmpty()) {
      refuse(ctx.channel(), Refused.Reason.BAD_TOKEN, hello.getToken().isEmpty() ? "a token is required"
          : "unknown token (create one with `gpupool token create`)");
      return;
    }
    if (hello.getProtocolVersion() != RemoteLimits.PROTOCOL_VERSION_VALUE) {
      refuse(ctx.channel(), Refused.Reason.VERSION, "protocol version " + hello.getProtocolVersion()
          + " is not served here (" + RemoteLimits.PROTOCOL_VERSION_VALUE + " is)");
      return;
    }
    if (options.driverVersion() > 0 && hello.getClientCudaVersion() > options.driverVersion()) {
      refuse(ctx.channel(), Refused.Reason.VERSION, "the client was built for CUDA " + version(hello.getClientCudaVersion())
          + "; this node's driver supports CUDA " + version(options.driverVersion()));
      return;
    }
    String peer = String.valueOf(ctx.channel().remoteAddress());
    Submit submit = Submit.newBuilder()
        .setMemoryBytes(hello.getMemoryBytes())
        .setGpus(1)
        .setName(hello.getName().isEmpty() ? "remote" : hello.getName())
        .setTeam(hello.getTeam())
        .setNoWait(hello.getNoWait())
        .addCommand("remote session from " + peer + " (token " + tokenName.get() + ")")
        .build();
    agent.submitRemote(submit, options.uid(), new Session(ctx.channel()), j -> job = j);
  }

  @Override
  public void channelInactive(ChannelHandlerContext ctx) throws Exception {
    Job j = job;
    if (j != null) agent.connectionClosed(j);
    super.channelInactive(ctx);
  }

  @Override
  public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
    refuse(ctx.channel(), Refused.Reason.BAD_REQUEST, "malformed message: " + cause.getMessage());
  }

  /** 12040 -> "12.4". */
  static String version(int cuda) {
    return cuda / 1000 + "." + (cuda % 1000) / 10;
  }

  static void refuse(Channel ch, Refused.Reason reason, String why) {
    if (!ch.isActive()) return;
    ch.writeAndFlush(ServerMessage.newBuilder().setRefused(Refused.newBuilder().setReason(reason).setMessage(why)).build())
        .addListener(ChannelFutureListener.CLOSE);
  }

  /** The agent's replies about this session, turned into the remote protocol. */
  private final class Session implements JobConnection {
    private final Channel channel;

    Session(Channel channel) {
      this.channel = channel;
    }

    @Override
    public void send(AgentReply reply) {
      switch (reply.getReplyCase()) {
        case QUEUED -> channel.writeAndFlush(ServerMessage.newBuilder().setQueued(reply.getQueued()).build());
        case ADMITTED -> launches.execute(() -> startWorker(reply));
        default -> sendAndClose(reply);
      }
    }

    private void startWorker(AgentReply reply) {
      byte[] secret = new byte[32];
      RANDOM.nextBytes(secret);
      String host = ((InetSocketAddress) channel.localAddress()).getAddress().getHostAddress();
      WorkerLauncher.Worker worker = null;
      try {
        worker = options.launcher().start(reply.getAdmitted(), host, secret);
        // The Redirect closes this connection, and then only the worker's process keeps the job
        // alive: the core thread must know that process before. (Recorded asynchronously, a
        // monitor tick that ran after the close but before the record ended the job and freed
        // its grant while its worker ran on, and the next session was admitted into its memory.)
        agent.setLauncher(job, worker.process().pid()).get(LAUNCHER_RECORD_TIMEOUT_S, TimeUnit.SECONDS);
        WorkerLauncher.Worker started = worker;
        channel.writeAndFlush(ServerMessage.newBuilder().setRedirect(Redirect.newBuilder()
                .setHost(host).setPort(worker.port()).setSecret(ByteString.copyFrom(secret))
                .setJobId(reply.getAdmitted().getJobId()))
            .build()).addListener(f -> {
              // The client hung up before it learnt where to go: nobody will attach.
              if (!f.isSuccess()) started.process().destroy();
              channel.close();
            });
      } catch (Exception e) {
        if (e instanceof InterruptedException) Thread.currentThread().interrupt();
        if (worker != null) worker.process().destroy(); // nobody will learn where it listens
        LOG.warning("remote session: " + e);
        refuse(channel, Refused.Reason.UNAVAILABLE, "no worker: " + e.getMessage());
      }
    }

    @Override
    public void sendAndClose(AgentReply reply) {
      Refused.Reason reason = Refused.Reason.UNAVAILABLE;
      String why = "closed";
      if (reply.hasError()) {
        why = reply.getError().getMessage();
        Error.Code c = reply.getError().getCode();
        reason = switch (c) {
          case NO_CAPACITY -> Refused.Reason.NO_CAPACITY;
          case NEVER_FITS -> Refused.Reason.NEVER_FITS;
          case BAD_REQUEST -> Refused.Reason.BAD_REQUEST;
          default -> Refused.Reason.UNAVAILABLE;
        };
      }
      refuse(channel, reason, why);
    }

    @Override
    public void close() {
      channel.close();
    }

    @Override
    public boolean isOpen() {
      return channel.isActive();
    }
  }
}
