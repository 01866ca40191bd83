package io.gpupool.agent.web;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gpupool.proto.v1.Report;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The status page in a real headless browser: what its script renders from /api/status, and a
 * screenshot kept as the test's output (java/agent/target/test-output/status-page.png).
 */
class StatusPageBrowserTest {

  static final Path SCREENSHOT = Path.of("target", "test-output", "status-page.png");

  private volatile boolean fail;
  private StatusHttpServer server;
  private String url;

  @BeforeEach
  void start() throws Exception {
    server = new StatusHttpServer("127.0.0.1", 0, () -> {
      if (fail) {
        throw new IllegalStateException("agent gone");
      }
      return Fixtures.status();
    }, since -> Report.getDefaultInstance());
    url = "http://127.0.0.1:" + server.address().getPort() + "/";
  }

  @AfterEach
  void stop() {
    server.close();
  }

  @Test
  void scriptRendersDevicesJobsQueueAndTeams() throws Exception {
    String full = Chromium.dumpDom(url);
    assertTrue(full.contains("<body class=\"ok\">"), "the fetch did not succeed:\n" + full);
    // what the script rendered, without the script's own source (its templates look alike)
    String dom = full.substring(0, full.indexOf("<script>"));

    String dev0 = startTag(dom, "div", "data-device=\"0\"");
    assertEquals("device", attr(dev0, "class"));
    assertEquals(String.valueOf(80 * Fixtures.GIB), attr(dev0, "data-total-bytes"));
    assertEquals(String.valueOf(40 * Fixtures.GIB), attr(dev0, "data-granted-bytes"));
    assertEquals(String.valueOf(21 * Fixtures.GIB), attr(dev0, "data-used-bytes"));
    String dev1 = startTag(dom, "div", "data-device=\"1\"");
    assertEquals("device idle", attr(dev1, "class"));
    assertEquals("0", attr(dev1, "data-granted-bytes"));
    assertEquals("0", attr(dev1, "data-used-bytes"));
    // the idle marker is on device 1 only
    assertEquals(1, count(dom, "<span class=\"idle-label\">idle</span>"), dom);
    String device1 = dom.substring(dom.indexOf(dev1));
    assertTrue(device1.indexOf("<span class=\"idle-label\">idle</span>")
        < device1.indexOf("class=\"bar\""), "idle label inside device 1's card");
    // device 0's bar: 21 of 80 used, 19 granted but unused, 40 free
    String device0 = dom.substring(dom.indexOf(dev0), dom.indexOf(dev1));
    assertTrue(device0.contains("class=\"seg used\" style=\"width:26.25%\""), device0);
    assertTrue(device0.contains("class=\"seg granted-unused\" style=\"width:23.75%\""), device0);
    assertTrue(device0.contains("class=\"seg free\" style=\"width:50%\""), device0);
    assertTrue(device0.contains("NVIDIA H100 80GB HBM3"));
    // time slicing: device 0 gated, train-llm holds the slice, each job's share and target
    String slices0 = startTag(device0, "div", "class=\"dev-slices\"");
    assertEquals("gated", attr(slices0, "data-slicing"));
    assertEquals("1", attr(slices0, "data-holder"));
    assertTrue(device0.contains("slice: train-llm"), device0);
    String share1 = startTag(device0, "span", "data-share-job=\"1\"");
    assertEquals("0.7", attr(share1, "data-share"));
    assertTrue(device0.contains("train-llm <b>70%</b> <span class=\"target\">(target 67%, weight 100)"), device0);
    assertEquals("0.3", attr(startTag(device0, "span", "data-share-job=\"2\""), "data-share"));
    String device1Card = dom.substring(dom.indexOf(dev1));
    assertEquals("open", attr(startTag(device1Card, "div", "class=\"dev-slices\""), "data-slicing"));

    String train = startTag(dom, "tr", "data-job-key=\"j1-a7f3\"");
    assertEquals("job", attr(train, "class"));
    String notebook = startTag(dom, "tr", "data-job-key=\"j2-b9c1\"");
    assertEquals("job idle-grant", attr(notebook, "class"));
    assertEquals(1, count(dom, "class=\"badge idle-grant-label\""));

    String waiting = startTag(dom, "tr", "data-job-id=\"3\"");
    assertEquals("waiting-job", attr(waiting, "class"));
    assertEquals("1", attr(waiting, "data-position"));
    String row = dom.substring(dom.indexOf(waiting));
    row = row.substring(0, row.indexOf("</tr>"));
    assertTrue(row.contains("#1") && row.contains("big-sweep"), row);
    assertTrue(row.contains("2 GPUs × 64.0 GiB"), row);
    assertTrue(row.contains("2 GPUs with 64.0 GiB free; 1 has it"), row);

    String nlp = startTag(dom, "tr", "data-team=\"nlp\"");
    assertEquals(String.valueOf(24 * Fixtures.GIB), attr(nlp, "data-granted-bytes"));
    assertEquals(String.valueOf(20 * Fixtures.GIB), attr(nlp, "data-used-bytes"));
    startTag(dom, "tr", "data-team=\"vision\"");
    assertFalse(dom.contains("loading…"), "summary rendered");
  }

  @Test
  void showsAgentUnreachableWhenTheFetchFails() throws Exception {
    fail = true;
    String dom = Chromium.dumpDom(url);
    assertTrue(dom.contains("<body class=\"stale\">"), dom);
    assertTrue(dom.contains("agent unreachable"), dom);
    assertTrue(dom.contains("HTTP 500"), dom);
  }

  @Test
  void screenshot() throws Exception {
    Chromium.screenshot(url, SCREENSHOT);
    byte[] png = Files.readAllBytes(SCREENSHOT);
    assertTrue(png.length > 20_000, "screenshot is only " + png.length + " bytes");
    assertEquals((byte) 0x89, png[0]);
    assertEquals("PNG", new String(png, 1, 3, java.nio.charset.StandardCharsets.US_ASCII));
  }

  private static String startTag(String dom, String tag, String containing) {
    Matcher m = Pattern.compile("<" + tag + "\\b[^>]*" + Pattern.quote(containing) + "[^>]*>")
        .matcher(dom);
    assertTrue(m.find(), "no <" + tag + " " + containing + "> in\n" + dom);
    return m.group();
  }

  private static String attr(String tag, String name) {
    Matcher m = Pattern.compile("\\s" + Pattern.quote(name) + "=\"([^\"]*)\"").matcher(tag);
    assertTrue(m.find(), "no " + name + " in " + tag);
    return m.group(1);
  }

  private static int count(String s, String what) {
    int n = 0;
    for (int i = s.indexOf(what); i >= 0; i = s.indexOf(what, i + 1)) {
      n++;
    }
    return n;
  }
}
