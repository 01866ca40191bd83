package io.gpupool.region;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.gpupool.region.binding.GpupoolLayout;
import io.gpupool.region.binding.gpupool_node_device;
import io.gpupool.region.binding.gpupool_node_header;
import io.gpupool.region.binding.gpupool_node_job;
import io.gpupool.region.binding.gpupool_node_table;
import io.gpupool.region.binding.gpupool_region;
import io.gpupool.region.binding.gpupool_region_device;
import io.gpupool.region.binding.gpupool_region_header;
import io.gpupool.region.binding.gpupool_region_slot;
import org.bytedeco.javacpp.Loader;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The binding's layout is the C++ compiler's: sizes and offsets the headers' static checks pin. */
class LayoutTest {
  @BeforeAll
  static void load() {
    Loader.load(GpupoolLayout.class);
  }

  @Test
  void nodeTableSizesAndOffsets() {
    assertEquals(2304 + 128 * 512 + 16 * 64, Loader.sizeof(gpupool_node_table.class));
    assertEquals(256, Loader.sizeof(gpupool_node_header.class));
    assertEquals(128, Loader.sizeof(gpupool_node_device.class));
    assertEquals(512, Loader.sizeof(gpupool_node_job.class));
    assertEquals(256, Loader.offsetof(gpupool_node_table.class, "devices"));
    assertEquals(2304, Loader.offsetof(gpupool_node_table.class, "jobs"));
    assertEquals(40, Loader.offsetof(gpupool_node_header.class, "agent_pid"));
    assertEquals(48, Loader.offsetof(gpupool_node_header.class, "agent_start_time"));
    assertEquals(56, Loader.offsetof(gpupool_node_header.class, "heartbeat_unix_ns"));
    assertEquals(64, Loader.offsetof(gpupool_node_header.class, "next_job_id"));
    assertEquals(8, Loader.offsetof(gpupool_node_job.class, "generation"));
    assertEquals(24, Loader.offsetof(gpupool_node_job.class, "key"));
    assertEquals(216, Loader.offsetof(gpupool_node_job.class, "launcher_pid"));
    assertEquals(248, Loader.offsetof(gpupool_node_job.class, "weight"));
    assertEquals(256, Loader.offsetof(gpupool_node_job.class, "devices"));
    assertEquals(320, Loader.offsetof(gpupool_node_job.class, "limit_bytes"));
  }

  @Test
  void regionSizesAndOffsets() {
    assertEquals(40960 + 256 * 1024, Loader.sizeof(gpupool_region.class));
    assertEquals(256, Loader.sizeof(gpupool_region_header.class));
    assertEquals(16, Loader.sizeof(gpupool_region_device.class));
    assertEquals(144, Loader.sizeof(gpupool_region_slot.class));
    assertEquals(48, Loader.offsetof(gpupool_region_header.class, "job"));
    assertEquals(112, Loader.offsetof(gpupool_region_header.class, "retired"));
    assertEquals(120, Loader.offsetof(gpupool_region_header.class, "pid_namespace"));
    assertEquals(256, Loader.offsetof(gpupool_region.class, "lock"));
    assertEquals(320, Loader.offsetof(gpupool_region.class, "devices"));
    assertEquals(4096, Loader.offsetof(gpupool_region.class, "slots"));
    assertEquals(16, Loader.offsetof(gpupool_region_slot.class, "used"));
  }

  @Test
  void constantsComeFromTheHeaders() {
    assertEquals(-1L, GpupoolLayout.GPUPOOL_NODE_UNLIMITED);
    assertEquals(-1L, GpupoolLayout.GPUPOOL_REGION_UNLIMITED);
    assertEquals("GPUNODE", GpupoolLayout.GPUPOOL_NODE_TABLE_MAGIC);
    assertEquals("GPUPOOL", GpupoolLayout.GPUPOOL_REGION_MAGIC);
  }
}
