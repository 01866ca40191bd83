package io.gpupool.cli;

import java.io.PrintWriter;
import java.io.StringWriter;

/** Runs the gpupool command in-process and captures what it prints. */
record GpupoolRun(int exitCode, String out, String err) {
  static GpupoolRun of(String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    int code = Main.run(new PrintWriter(out), new PrintWriter(err), args);
    return new GpupoolRun(code, out.toString(), err.toString());
  }
}
