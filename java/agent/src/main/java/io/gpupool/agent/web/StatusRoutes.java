package io.gpupool.agent.web;

import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.util.JsonFormat;
import io.gpupool.agent.report.ReportFormatter;
import io.gpupool.agent.report.Since;
import io.gpupool.proto.v1.Report;
import io.gpupool.proto.v1.Status;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.URISyntaxException;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.function.LongFunction;
import java.util.function.LongSupplier;
import java.util.function.Supplier;

/**
 * The agent's HTTP routes as plain functions of method and request target.
 *
 * <ul>
 *   <li>{@code GET /} the status page (a static page whose script polls {@code /api/status})
 *   <li>{@code GET /api/status} {@link Status} as protobuf JSON
 *   <li>{@code GET /api/report?since=7d&format=json|csv|html} the usage report; {@code since}
 *       as {@link Since} parses it, 7 days when absent
 *   <li>{@code GET /metrics} Prometheus text format
 * </ul>
 *
 * Other paths: 404; methods other than GET and HEAD: 405. Why JSON with every field printed,
 * zeros included: the page's script and other consumers then never have to guess whether an
 * absent field means 0.
 */
final class StatusRoutes {

  static final String PAGE_RESOURCE = "/io/gpupool/agent/web/status.html";
  static final Duration DEFAULT_REPORT_WINDOW = Duration.ofDays(7);

  private static final JsonFormat.Printer JSON =
      JsonFormat.printer().alwaysPrintFieldsWithNoPresence();

  private final Supplier<Status> status;
  private final LongFunction<Report> report;
  private final MetricsExporter metrics;
  private final LongSupplier clock;
  private final byte[] page;

  StatusRoutes(Supplier<Status> status, LongFunction<Report> report, LongSupplier clock) {
    this.status = status;
    this.report = report;
    this.metrics = new MetricsExporter(status);
    this.clock = clock;
    this.page = loadPage();
  }

  MetricsExporter metrics() {
    return metrics;
  }

  /** @param method the request's method; HEAD is answered like GET (the handler drops the body) */
  HttpReply handle(String method, String target) throws InvalidProtocolBufferException {
    if (!method.equals("GET") && !method.equals("HEAD")) {
      return HttpReply.text(405, "method " + method + " not allowed: use GET or HEAD")
          .withHeader("Allow", "GET, HEAD");
    }
    URI uri;
    try {
      uri = new URI(target);
    } catch (URISyntaxException e) {
      return HttpReply.text(400, "bad request target: " + e.getMessage());
    }
    String path = uri.getRawPath() == null ? "" : uri.getRawPath();
    Map<String, String> query;
    try {
      query = parseQuery(uri.getRawQuery());
    } catch (IllegalArgumentException e) {
      return HttpReply.text(400, "bad query: " + e.getMessage());
    }
    return switch (path) {
      case "/", "/index.html" -> HttpReply.of(200, HttpReply.HTML, page);
      case "/api/status" -> HttpReply.of(200, HttpReply.JSON, JSON.print(status.get()) + "\n");
      case "/api/report" -> report(query);
      case "/metrics" -> HttpReply.of(200, metrics.contentType(), metrics.scrape());
      default -> HttpReply.text(404, "not found: " + path);
    };
  }

  private HttpReply report(Map<String, String> query) throws InvalidProtocolBufferException {
    long now = clock.getAsLong();
    long since;
    String sinceText = query.get("since");
    try {
      since = sinceText == null ? now - DEFAULT_REPORT_WINDOW.toMillis()
          : Since.parse(sinceText, now);
    } catch (IllegalArgumentException e) {
      return HttpReply.text(400, e.getMessage());
    }
    String format = query.getOrDefault("format", "json");
    if (!format.equals("json") && !format.equals("csv") && !format.equals("html")) {
      return HttpReply.text(400, "bad format '" + format + "': json, csv or html");
    }
    Report r = report.apply(since);
    return switch (format) {
      case "csv" -> HttpReply.of(200, HttpReply.CSV, ReportFormatter.toCsv(r))
          .withHeader("Content-Disposition", "inline; filename=\"gpupool-report.csv\"");
      case "html" -> HttpReply.of(200, HttpReply.HTML, ReportFormatter.toHtml(r));
      default -> HttpReply.of(200, HttpReply.JSON, JSON.print(r) + "\n");
    };
  }

  /** The last value wins; a malformed escape throws IllegalArgumentException. */
  private static Map<String, String> parseQuery(String rawQuery) {
    Map<String, String> out = new HashMap<>();
    if (rawQuery == null || rawQuery.isEmpty()) {
      return out;
    }
    for (String pair : rawQuery.split("&")) {
      if (pair.isEmpty()) {
        continue;
      }
      int eq = pair.indexOf('=');
      String key = eq < 0 ? pair : pair.substring(0, eq);
      String value = eq < 0 ? "" : pair.substring(eq + 1);
      out.put(URLDecoder.decode(key, StandardCharsets.UTF_8),
          URLDecoder.decode(value, StandardCharsets.UTF_8));
    }
    return out;
  }

  private static byte[] loadPage() {
    try (InputStream in = StatusRoutes.class.getResourceAsStream(PAGE_RESOURCE)) {
      if (in == null) {
        throw new IllegalStateException("missing resource " + PAGE_RESOURCE);
      }
      return in.readAllBytes();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
