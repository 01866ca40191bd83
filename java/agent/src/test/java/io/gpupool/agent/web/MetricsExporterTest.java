package io.gpupool.agent.web;

import static io.gpupool.agent.web.Fixtures.GIB;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gpupool.proto.v1.JobStatus;
import io.gpupool.proto.v1.Status;
import java.util.HashMap;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;

/** The /metrics text, parsed line by line: exact names, label sets and values. */
class MetricsExporterTest {

  /** Series key: name plus its labels sorted, e.g. {@code m{a="1",b="x"}}. */
  static Map<String, Double> parse(String text) {
    Map<String, Double> series = new HashMap<>();
    for (String line : text.split("\n")) {
      if (line.isEmpty() || line.startsWith("#")) {
        continue;
      }
      int brace = line.indexOf('{');
      int space = line.lastIndexOf(' ');
      String name = brace >= 0 ? line.substring(0, brace) : line.substring(0, space);
      Map<String, String> labels = new TreeMap<>();
      if (brace >= 0) {
        int i = brace + 1;
        while (line.charAt(i) != '}') {
          int eq = line.indexOf('=', i);
          String key = line.substring(i, eq);
          StringBuilder value = new StringBuilder();
          int j = eq + 2; // after ="
          for (; line.charAt(j) != '"'; j++) {
            char c = line.charAt(j);
            if (c == '\\') {
              char n = line.charAt(++j);
              value.append(n == 'n' ? '\n' : n);
            } else {
              value.append(c);
            }
          }
          labels.put(key, value.toString());
          i = j + 1;
          if (line.charAt(i) == ',') {
            i++;
          }
        }
      }
      String key = name + labels;
      Double old = series.put(key, Double.parseDouble(line.substring(space + 1)));
      assertEquals(null, old, "duplicate series " + key);
    }
    return series;
  }

  @Test
  void exposesExactlyTheListedSeries() {
    String text = new MetricsExporter(Fixtures::status).scrapeText();
    Map<String, Double> s = parse(text);

    Map<String, Double> want = new HashMap<>();
    want.put("gpupool_device_memory_total_bytes{device=0}", 80.0 * GIB);
    want.put("gpupool_device_memory_total_bytes{device=1}", 80.0 * GIB);
    want.put("gpupool_device_memory_granted_bytes{device=0}", 40.0 * GIB);
    want.put("gpupool_device_memory_granted_bytes{device=1}", 0.0);
    want.put("gpupool_device_memory_used_bytes{device=0}", 21.0 * GIB);
    want.put("gpupool_device_memory_used_bytes{device=1}", 0.0);
    want.put("gpupool_job_memory_limit_bytes{device=0, job=j1-a7f3}", 24.0 * GIB);
    want.put("gpupool_job_memory_used_bytes{device=0, job=j1-a7f3}", 20.0 * GIB);
    want.put("gpupool_job_memory_limit_bytes{device=0, job=j2-b9c1}", 16.0 * GIB);
    want.put("gpupool_job_memory_used_bytes{device=0, job=j2-b9c1}", 1.0 * GIB);
    want.put("gpupool_job_device_seconds_total{device=0, job=j1-a7f3}", 700.5);
    want.put("gpupool_job_wait_seconds_total{device=0, job=j1-a7f3}", 12.25);
    want.put("gpupool_job_slices_total{device=0, job=j1-a7f3}", 9000.0);
    want.put("gpupool_job_swapped_bytes_total{device=0, job=j1-a7f3}", 0.0);
    want.put("gpupool_job_device_share{device=0, job=j1-a7f3}", 0.7);
    want.put("gpupool_job_device_seconds_total{device=0, job=j2-b9c1}", 300.25);
    want.put("gpupool_job_wait_seconds_total{device=0, job=j2-b9c1}", 40.0);
    want.put("gpupool_job_slices_total{device=0, job=j2-b9c1}", 3000.0);
    want.put("gpupool_job_swapped_bytes_total{device=0, job=j2-b9c1}", 2.0 * GIB);
    want.put("gpupool_job_device_share{device=0, job=j2-b9c1}", 0.3);
    want.put("gpupool_job_info{job=j1-a7f3, name=train-llm, state=running, team=nlp, uid=1000}",
        1.0);
    want.put("gpupool_job_info{job=j2-b9c1, name=notebook, state=running, team=vision, uid=1001}",
        1.0);
    // the waiting job has no key yet: its id stands in
    want.put("gpupool_job_info{job=3, name=big-sweep, state=waiting, team=nlp, uid=1000}", 1.0);
    want.put("gpupool_jobs_waiting{}", 1.0);
    want.put("gpupool_jobs_running{}", 2.0);
    assertEquals(new TreeMap<>(want), new TreeMap<>(s), text);

    assertTrue(text.contains("# TYPE gpupool_job_info gauge\n"), text);
    assertTrue(text.contains("# TYPE gpupool_job_device_seconds_total counter\n"), text);
    assertTrue(text.contains("# TYPE gpupool_device_memory_total_bytes gauge\n"), text);
  }

  @Test
  void oneSeriesPerGrantedDeviceAndEscapedLabels() {
    Status st = Status.newBuilder()
        .addJobs(JobStatus.newBuilder().setJobId(7).setKey("k7").setName("say \"hi\"\\now")
            .setTeam("a,b").setUid(0xFFFF_FFFE).setState(JobStatus.State.RUNNING)
            .setMemoryBytes(0).setGpus(2).addDevices(3).addDevices(1)
            .addUsedBytes(5).addUsedBytes(6))
        .addDevices(io.gpupool.proto.v1.DeviceStatus.newBuilder().setOrdinal(3)
            .setTotalBytes(-1L)) // 2^64-1: unsigned
        .build();
    Map<String, Double> s = parse(new MetricsExporter(() -> st).scrapeText());
    assertEquals(5.0, s.get("gpupool_job_memory_used_bytes{device=3, job=k7}"));
    assertEquals(6.0, s.get("gpupool_job_memory_used_bytes{device=1, job=k7}"));
    // quota 0 = the whole GPU: the device's memory; unknown device: 0
    assertEquals(18446744073709551615.0, s.get("gpupool_job_memory_limit_bytes{device=3, job=k7}"));
    assertEquals(0.0, s.get("gpupool_job_memory_limit_bytes{device=1, job=k7}"));
    assertEquals(1.0, s.get(
        "gpupool_job_info{job=k7, name=say \"hi\"\\now, state=running, team=a,b, uid=4294967294}"));
    assertEquals(0.0, s.get("gpupool_jobs_waiting{}"));
  }

  @Test
  void readsStatusAtEveryScrape() {
    Status[] current = {Status.getDefaultInstance()};
    MetricsExporter m = new MetricsExporter(() -> current[0]);
    assertEquals(0.0, parse(m.scrapeText()).get("gpupool_jobs_running{}"));
    current[0] = Fixtures.status();
    assertEquals(2.0, parse(m.scrapeText()).get("gpupool_jobs_running{}"));
    assertTrue(m.contentType().startsWith("text/plain; version=0.0.4"), m.contentType());
  }
}
