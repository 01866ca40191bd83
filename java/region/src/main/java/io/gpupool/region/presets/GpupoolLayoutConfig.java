package io.gpupool.region.presets;

import org.bytedeco.javacpp.annotation.Platform;
import org.bytedeco.javacpp.annotation.Properties;
import org.bytedeco.javacpp.tools.Info;
import org.bytedeco.javacpp.tools.InfoMap;
import org.bytedeco.javacpp.tools.InfoMapper;

/**
 * JavaCPP configuration of the binding of the shared-memory layouts
 * ({@code native/include/gpupool/control_region.h} and {@code node_table.h}).
 *
 * <p>At build time the javacpp plugin's {@code parse} goal reads the headers with this
 * configuration and generates one class per struct in {@code io.gpupool.region.binding}
 * (e.g. {@code gpupool_node_table}) and the constants and functions in
 * {@link io.gpupool.region.binding.GpupoolLayout GpupoolLayout}; its {@code build} goal then
 * compiles the JNI library (g++, with the headers' static layout checks) into the classes.
 * The headers are the single source of the layout: nothing here restates it.
 *
 * <p>The include path ({@code <root>/native/include}) is given by the module's pom (plugin
 * {@code includePath}), since the repository root is only known at build time.
 */
@Properties(
    target = "io.gpupool.region.binding",
    global = "io.gpupool.region.binding.GpupoolLayout",
    value = @Platform(include = {"gpupool/control_region.h", "gpupool/node_table.h"}))
public class GpupoolLayoutConfig implements InfoMapper {
  @Override
  public void map(InfoMap infoMap) {
    // The parser skips the static layout checks, as if GPUPOOL_REGION_NO_STATIC_CHECKS were
    // defined; the JNI compile defines nothing, so the C++ compiler still checks every offset.
    infoMap.put(new Info("!defined(GPUPOOL_REGION_NO_STATIC_CHECKS)").define(false));
    infoMap.put(new Info("GPUPOOL_REGION_STATIC_ASSERT", "GPUPOOL_NODE_STATIC_ASSERT").define(false));
    // UINT64_MAX has no Java literal: evaluate the macros in C++ instead.
    infoMap.put(new Info("GPUPOOL_REGION_UNLIMITED", "GPUPOOL_NODE_UNLIMITED")
        .cppTypes("uint64_t").translate(false));
  }
}
