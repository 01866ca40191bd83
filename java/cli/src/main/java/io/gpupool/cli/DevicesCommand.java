package io.gpupool.cli;

import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.util.JsonFormat;
import io.gpupool.driver.Cuda;
import io.gpupool.driver.DeviceProperties;
import java.io.PrintWriter;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

@Command(name = "devices", description = "List the CUDA devices the driver shows.")
final class DevicesCommand implements Callable<Integer> {
  @Spec CommandSpec spec;

  @Option(
      names = "--json",
      description = "Print a gpupool.v1.DeviceList as JSON (protobuf's JSON mapping).")
  boolean json;

  @Override
  public Integer call() throws InvalidProtocolBufferException {
    PrintWriter out = spec.commandLine().getOut();
    List<DeviceProperties> devices = Cuda.devices();
    if (json) {
      // Default-valued fields (ordinal 0) are printed too, so every device has every field.
      out.println(
          JsonFormat.printer()
              .alwaysPrintFieldsWithNoPresence()
              .print(DeviceInfos.toProto(devices)));
    } else {
      print(out, devices);
    }
    return 0;
  }

  static void print(PrintWriter out, List<DeviceProperties> devices) {
    out.println(devices.size() + (devices.size() == 1 ? " device" : " devices"));
    for (DeviceProperties d : devices) {
      out.printf(
          "  %d  %s  %s  cc %d.%d  %d SMs  %s%n",
          d.ordinal(),
          d.name(),
          Sizes.format(d.totalMemoryBytes()),
          d.computeCapabilityMajor(),
          d.computeCapabilityMinor(),
          d.multiprocessorCount(),
          d.uuidString());
    }
  }
}
