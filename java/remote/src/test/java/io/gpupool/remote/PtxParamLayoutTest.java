package io.gpupool.remote;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gpupool.proto.v1.ParamInfo;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class PtxParamLayoutTest {
  private static List<String> layout(String ptx, String entry) {
    Map<String, List<ParamInfo>> all = PtxParamLayout.parse(ptx.getBytes(StandardCharsets.US_ASCII));
    return all.get(entry).stream().map(p -> p.getOffset() + ":" + p.getSize()).toList();
  }

  @Test
  void alignsEachParameterToItsTypeOrAlignDirective() {
    String ptx = ".visible .entry k(\n"
        + "  .param .u8 k_param_0, // a comment, with a comma\n"
        + "  .param .u64 .ptr .global .align 1 k_param_1,\n"
        + "  .param .align 16 .b8 k_param_2[24],\n"
        + "  .param .f32 k_param_3,\n"
        + "  .param .b16 k_param_4[3]\n"
        + ")\n{ ret; }\n"
        + "/* .entry commented(.param .u32 x) */\n"
        + ".entry none()\n{ ret; }\n";
    assertEquals(List.of("0:1", "8:8", "16:24", "40:4", "44:6"), layout(ptx, "k"));
    assertEquals(List.of(), layout(ptx, "none"));
    assertFalse(PtxParamLayout.parse(ptx.getBytes(StandardCharsets.US_ASCII)).containsKey("commented"));
  }

  @Test
  void readsTheBuiltKernels() throws Exception {
    String ptx = new String(Calls.ptx("saxpy"), StandardCharsets.US_ASCII);
    assertEquals(List.of("0:4", "4:4", "8:8", "16:8"), layout(ptx, "saxpy"));
    assertTrue(PtxParamLayout.isPtx(Calls.ptx("sgemm_nn")));
    assertFalse(PtxParamLayout.isPtx(new byte[] {0x7f, 'E', 'L', 'F', 2}));
  }
}
