package io.gpupool.agent.web;

import io.gpupool.proto.v1.Status;
import io.prometheus.metrics.expositionformats.PrometheusTextFormatWriter;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.function.Supplier;

/**
 * The agent's {@code /metrics}: a registry of its own holding a {@link StatusCollector}, written
 * in the Prometheus text format.
 *
 * <p>Why a registry of its own and not {@link PrometheusRegistry#defaultRegistry}: the default
 * registry is process-global, so a second agent in the same JVM (tests start several) would
 * fail to register the same names, and anything else that registers into the default registry
 * would leak into the agent's endpoint.
 *
 * <p>Exposed: {@code gpupool_device_memory_total_bytes}, {@code _used_bytes} and
 * {@code _granted_bytes} by {@code device}; {@code gpupool_job_memory_limit_bytes} and
 * {@code gpupool_job_memory_used_bytes} by {@code job} and {@code device} (running jobs, one
 * series per granted device); {@code gpupool_job_info} by {@code job, name, team, uid, state}
 * (running and waiting jobs); {@code gpupool_jobs_waiting}; {@code gpupool_jobs_running}; time
 * slicing, by {@code job} and {@code device}: {@code gpupool_job_device_seconds_total},
 * {@code gpupool_job_wait_seconds_total}, {@code gpupool_job_slices_total},
 * {@code gpupool_job_swapped_bytes_total} and {@code gpupool_job_device_share}.
 */
public final class MetricsExporter {

  private final PrometheusRegistry registry = new PrometheusRegistry();
  private final PrometheusTextFormatWriter writer = PrometheusTextFormatWriter.create();

  /** @param status the agent's state, read on every scrape */
  public MetricsExporter(Supplier<Status> status) {
    registry.register(new StatusCollector(status));
  }

  /** The registry scraped by {@link #write}; others may register more collectors into it. */
  public PrometheusRegistry registry() {
    return registry;
  }

  /** The Content-Type of what {@link #write} produces. */
  public String contentType() {
    return writer.getContentType();
  }

  /** Scrapes the registry now and writes the text format to {@code out}. */
  public void write(OutputStream out) throws IOException {
    writer.write(out, registry.scrape());
  }

  /** Scrapes the registry now: the text format as bytes (UTF-8). */
  public byte[] scrape() {
    ByteArrayOutputStream out = new ByteArrayOutputStream(4096);
    try {
      write(out);
    } catch (IOException e) {
      throw new IllegalStateException("writing to memory failed", e);
    }
    return out.toByteArray();
  }

  /** Scrapes the registry now: the text format as a string. */
  public String scrapeText() {
    return new String(scrape(), StandardCharsets.UTF_8);
  }
}
