package io.gpupool.cli;

import io.gpupool.agent.remote.TokenStore;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

@Command(name = "token", description = "Tokens for remote sessions.", subcommands = TokenCommand.Create.class)
final class TokenCommand implements Runnable {
  @Spec CommandSpec spec;

  @Override
  public void run() {
    throw new picocli.CommandLine.ParameterException(spec.commandLine(), "Missing subcommand: create");
  }

  @Command(name = "create", description = {
      "Create a token for remote clients of the agent whose state directory this is, and print it.",
      "Only its hash is kept (in <state>/tokens); the agent reads the file at every session."})
  static final class Create implements Callable<Integer> {
    @Spec CommandSpec spec;

    @Option(names = "--name", paramLabel = "NAME", defaultValue = "default",
        description = "Who the token is for (letters, digits, _ . @ -; default: ${DEFAULT-VALUE}).")
    String name;

    @Option(names = "--state", paramLabel = "DIR",
        description = "The agent's state directory (default: as `gpupool agent`).")
    Path state;

    @Override
    public Integer call() throws Exception {
      Path dir = state != null ? state : AgentCommand.defaultStateDir(System.getenv());
      String token = new TokenStore(dir).create(name);
      spec.commandLine().getOut().println(token);
      return 0;
    }
  }
}
