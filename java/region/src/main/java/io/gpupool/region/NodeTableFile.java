package io.gpupool.region;

import static io.gpupool.region.binding.GpupoolLayout.GPUPOOL_JOB_FREE;
import static io.gpupool.region.binding.GpupoolLayout.GPUPOOL_JOB_RUNNING;
import static io.gpupool.region.binding.GpupoolLayout.GPUPOOL_NODE_JOB_BYTES;
import static io.gpupool.region.binding.GpupoolLayout.GPUPOOL_NODE_MAX_DEVICES;
import static io.gpupool.region.binding.GpupoolLayout.GPUPOOL_NODE_MAX_JOBS;
import static io.gpupool.region.binding.GpupoolLayout.GPUPOOL_NODE_TABLE_LAYOUT_VERSION;
import static io.gpupool.region.binding.GpupoolLayout.GPUPOOL_NODE_TABLE_MAGIC;
import static java.nio.file.LinkOption.NOFOLLOW_LINKS;
import static java.nio.file.StandardOpenOption.CREATE_NEW;
import static java.nio.file.StandardOpenOption.READ;
import static java.nio.file.StandardOpenOption.WRITE;

import io.gpupool.region.binding.gpupool_node_header;
import io.gpupool.region.binding.gpupool_node_job;
import io.gpupool.region.binding.gpupool_node_table;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.OpenOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Arrays;
import java.util.Map;
import java.util.Set;
import org.bytedeco.javacpp.BytePointer;

/**
 * Opening, validating and creating the node table's file (package-private; see
 * {@link NodeTable#openOrCreate}). Never repairs or replaces a file it refuses.
 */
final class NodeTableFile {
  private static final Set<PosixFilePermission> MODE_0644 = PosixFilePermissions.fromString("rw-r--r--");

  private NodeTableFile() {}

  static NodeTable openOrCreate(Path path) throws IOException {
    for (int attempt = 0; attempt < 3; attempt++) {
      if (Files.exists(path, NOFOLLOW_LINKS) || Files.isSymbolicLink(path)) {
        NodeTable table = open(path);
        if (table != null) {
          return table;
        }
      } else {
        NodeTable table = create(path);
        if (table != null) {
          return table;
        }
      }
      // The file came or went between the check and the open: look again.
    }
    throw new IOException("node table " + path + ": keeps appearing and disappearing");
  }

  /** Opens and validates an existing table; null if it vanished meanwhile. */
  private static NodeTable open(Path path) throws IOException {
    int euid = Processes.euid();
    Map<String, Object> attributes;
    try {
      attributes = Files.readAttributes(path, "unix:uid,mode,size,isRegularFile", NOFOLLOW_LINKS);
    } catch (NoSuchFileException e) {
      return null;
    }
    if (!(Boolean) attributes.get("isRegularFile")) {
      throw refused(path, "not a regular file (a symbolic link or a special file)");
    }
    int owner = (Integer) attributes.get("uid");
    if (owner != euid) {
      throw refused(path, "owned by uid " + Integer.toUnsignedString(owner) + ", not by this user (uid "
          + Integer.toUnsignedString(euid) + ")");
    }
    int mode = (Integer) attributes.get("mode");
    if ((mode & 0022) != 0) {
      throw refused(path, String.format("mode %04o lets others write it (expected 0644)", mode & 07777));
    }
    MappedByteBuffer mapping;
    try (FileChannel channel = FileChannel.open(path, READ, WRITE, NOFOLLOW_LINKS)) {
      long size = channel.size();
      if (size != NodeTable.TABLE_SIZE) {
        throw refused(path, "wrong size: " + size + " bytes, expected " + NodeTable.TABLE_SIZE);
      }
      mapping = channel.map(FileChannel.MapMode.READ_WRITE, 0, NodeTable.TABLE_SIZE);
    } catch (NoSuchFileException e) {
      return null;
    }
    String problem = problem(new gpupool_node_table(new BytePointer(mapping)), owner);
    if (problem != null) {
      throw refused(path, problem);
    }
    return new NodeTable(path, mapping);
  }

  /** What is wrong with a mapped table, or null if it is valid (the header's Contract). */
  private static String problem(gpupool_node_table table, int fileOwner) {
    gpupool_node_header header = table.header();
    byte[] magic = Fields.bytes(header.magic(), 8);
    byte[] expected = Fields.cString(GPUPOOL_NODE_TABLE_MAGIC);
    if (!Arrays.equals(magic, expected)) {
      return Arrays.equals(magic, new byte[8])
          ? "magic is all zero (a creator did not finish it)"
          : "wrong magic " + Fields.printable(magic) + ", expected " + Fields.printable(expected);
    }
    String fields = mismatch("layout_version", header.layout_version(), GPUPOOL_NODE_TABLE_LAYOUT_VERSION)
        + mismatch("header_size", header.header_size(), NodeTable.HEADER_SIZE)
        + mismatch("table_size", header.table_size(), NodeTable.TABLE_SIZE)
        + mismatch("max_devices", header.max_devices(), GPUPOOL_NODE_MAX_DEVICES)
        + mismatch("max_jobs", header.max_jobs(), GPUPOOL_NODE_MAX_JOBS)
        + mismatch("owner_uid", header.owner_uid(), fileOwner);
    if (!fields.isEmpty()) {
      return fields.substring(2);
    }
    if (Integer.compareUnsigned(header.device_count(), GPUPOOL_NODE_MAX_DEVICES) > 0) {
      return "device_count " + Integer.toUnsignedString(header.device_count()) + " is over max_devices";
    }
    for (int i = 0; i < GPUPOOL_NODE_MAX_JOBS; i++) {
      gpupool_node_job job = table.jobs(i);
      int state = job.state();
      if (state == GPUPOOL_JOB_FREE) {
        continue;
      }
      if (state != GPUPOOL_JOB_RUNNING) {
        return "entry " + i + " has state " + Integer.toUnsignedString(state);
      }
      String key = Fields.getString(job.key(), GPUPOOL_NODE_JOB_BYTES);
      if (key == null || !Fields.KEY.matcher(key).matches()) {
        return "RUNNING entry " + i + " has no valid job key";
      }
      if (Integer.compareUnsigned(job.device_count(), GPUPOOL_NODE_MAX_DEVICES) > 0) {
        return "RUNNING entry " + i + " has device_count " + Integer.toUnsignedString(job.device_count());
      }
    }
    return null;
  }

  private static String mismatch(String field, int value, int expected) {
    return value == expected ? ""
        : ", " + field + " " + Integer.toUnsignedString(value) + " (expected " + Integer.toUnsignedString(expected) + ")";
  }

  /**
   * Creates the table under "&lt;name&gt;~&lt;pid&gt;" (O_CREAT|O_EXCL, mode 0644), writes it, the
   * magic last, then gives it its name with link(2), which (unlike rename) never replaces a file
   * that appeared meanwhile; the temporary name is removed. Null if another creator won.
   */
  private static NodeTable create(Path path) throws IOException {
    int euid = Processes.euid();
    Path temporary = path.resolveSibling(path.getFileName() + "~" + Processes.pid());
    removeStale(temporary, euid);
    try {
      MappedByteBuffer mapping;
      try (FileChannel channel = FileChannel.open(temporary, Set.<OpenOption>of(CREATE_NEW, READ, WRITE, NOFOLLOW_LINKS),
          PosixFilePermissions.asFileAttribute(MODE_0644))) {
        Files.setPosixFilePermissions(temporary, MODE_0644); // whatever the umask
        channel.write(ByteBuffer.allocate(1), NodeTable.TABLE_SIZE - 1); // all zero: every entry FREE
        mapping = channel.map(FileChannel.MapMode.READ_WRITE, 0, NodeTable.TABLE_SIZE);
      }
      NodeTable.initialise(new gpupool_node_table(new BytePointer(mapping)), euid);
      try {
        Files.createLink(path, temporary);
      } catch (FileAlreadyExistsException e) {
        return null;
      }
      return new NodeTable(path, mapping);
    } finally {
      Files.deleteIfExists(temporary);
    }
  }

  /** Removes a temporary left by a dead process that had this pid; refuses anything else. */
  private static void removeStale(Path temporary, int euid) throws IOException {
    if (!Files.exists(temporary, NOFOLLOW_LINKS) && !Files.isSymbolicLink(temporary)) {
      return;
    }
    Map<String, Object> attributes = Files.readAttributes(temporary, "unix:uid,isRegularFile", NOFOLLOW_LINKS);
    if (!(Boolean) attributes.get("isRegularFile") || (Integer) attributes.get("uid") != euid) {
      throw refused(temporary, "a temporary name in use by a file that is not this user's");
    }
    Files.delete(temporary);
  }

  private static IOException refused(Path path, String what) {
    return new IOException("node table " + path + ": refused: " + what);
  }
}
