package io.gpupool.cli;

import io.gpupool.simulate.ClusterNode;
import io.gpupool.simulate.ComparisonTable;
import io.gpupool.simulate.Demand;
import io.gpupool.simulate.HtmlSimulationReport;
import io.gpupool.simulate.NodesReader;
import io.gpupool.simulate.Policy;
import io.gpupool.simulate.QueueDiscipline;
import io.gpupool.simulate.SimulationResult;
import io.gpupool.simulate.Simulator;
import io.gpupool.simulate.Trace;
import io.gpupool.simulate.TraceReader;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * {@code gpupool simulate}: replays a cluster trace under each policy asked for (io.gpupool.simulate)
 * and prints the comparison; needs no driver and no agent. A malformed file fails with exit 1 and
 * the file, line and column at fault.
 */
@Command(name = "simulate", description = "Replays a cluster trace (Alibaba openb schema) on simulated nodes through "
    + "the agent's admission, placement and time-slicing code; compares static whole-GPU allocation with pooling.")
final class SimulateCommand implements Callable<Integer> {
  @Spec CommandSpec spec;

  @Option(names = "--trace", paramLabel = "FILE", required = true, description = "The pod list (CSV: name, cpu_milli, "
      + "memory_mib, num_gpu, gpu_milli[, gpu_spec, qos, pod_phase, creation_time, deletion_time, scheduled_time]).")
  Path trace;

  @Option(names = "--nodes", paramLabel = "FILE", required = true,
      description = "The node list (CSV: sn, cpu_milli, memory_mib, gpu, model).")
  Path nodes;

  @Option(names = "--policy", paramLabel = "LIST", defaultValue = "static,pooled",
      description = "static, pooled, or both comma-separated (default: ${DEFAULT-VALUE}).")
  String policy;

  @Option(names = "--demand", paramLabel = "MODEL", defaultValue = "request", description = "How much of a GPU's time "
      + "a task uses when it could have more: request (its gpu_milli share) or whole (all it is given) (default: ${DEFAULT-VALUE}).")
  String demand;

  @Option(names = "--queue", paramLabel = "RULE", defaultValue = "strict-fifo", description = "How waiting tasks "
      + "start: strict-fifo (the agent's rule: a task that does not fit holds up all behind it) or best-effort-fifo "
      + "(every task that fits starts, in order; large tasks can starve) (default: ${DEFAULT-VALUE}).")
  String queue;

  @Option(names = "--node-limit", paramLabel = "N",
      description = "Use only the first N nodes of the node list (a smaller cluster for the same tasks).")
  Integer nodeLimit;

  @Option(names = "--html", paramLabel = "FILE", description = "Also write a self-contained HTML report with plots.")
  Path html;

  @Override
  public Integer call() throws Exception {
    List<Policy> policies = policies();
    Demand demandModel;
    try {
      demandModel = Demand.parse(demand);
    } catch (IllegalArgumentException e) {
      throw new ParameterException(spec.commandLine(), "--demand: " + e.getMessage());
    }
    QueueDiscipline discipline;
    try {
      discipline = QueueDiscipline.parse(queue);
    } catch (IllegalArgumentException e) {
      throw new ParameterException(spec.commandLine(), "--queue: " + e.getMessage());
    }
    if (nodeLimit != null && nodeLimit < 1) {
      throw new ParameterException(spec.commandLine(), "--node-limit: " + nodeLimit + " is not a positive number");
    }
    Trace tasks = TraceReader.read(trace);
    List<ClusterNode> cluster = NodesReader.read(nodes);
    if (nodeLimit != null && nodeLimit < cluster.size()) cluster = cluster.subList(0, nodeLimit);

    PrintWriter out = spec.commandLine().getOut();
    List<SimulationResult> results = new ArrayList<>();
    for (Policy p : policies) {
      long began = System.nanoTime();
      results.add(Simulator.run(tasks, cluster, p, demandModel, discipline));
      out.printf(Locale.ROOT, "%s: replayed in %.1f s%n", p.label(), (System.nanoTime() - began) / 1e9);
    }
    out.print(ComparisonTable.render(trace.getFileName().toString(), results));
    if (html != null) {
      Files.writeString(html, HtmlSimulationReport.render(trace.getFileName().toString(), results), StandardCharsets.UTF_8);
      out.println("HTML report: " + html);
    }
    return 0;
  }

  private List<Policy> policies() {
    Set<Policy> chosen = new LinkedHashSet<>();
    for (String name : policy.split(",", -1)) {
      try {
        if (!chosen.add(Policy.parse(name))) throw new IllegalArgumentException("'" + name.trim() + "' is named twice");
      } catch (IllegalArgumentException e) {
        throw new ParameterException(spec.commandLine(), "--policy: " + e.getMessage());
      }
    }
    return new ArrayList<>(chosen);
  }
}
