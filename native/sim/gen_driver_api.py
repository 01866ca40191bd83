#!/usr/bin/env python3
"""gen_driver_api.py — derives the simulated driver's API surface from cuda.h.

The real libcuda.so.1 exports every entry point of cuda.h under its ABI names:
legacy (cuMemAlloc), versioned (cuMemAlloc_v2, cuCtxCreate_v4) and per-thread
default stream (cuMemcpy_ptds, cuLaunchKernel_ptsz). Those names only appear
when the header is preprocessed as the driver itself is built, with
__CUDA_API_VERSION_INTERNAL. cudaTypedefs.h then says in which CUDA version
each of them was introduced (PFN_cuMemAlloc_v3020 is cuMemAlloc_v2): that is
the data cuGetProcAddress needs. A base name stands for its own _vN/_ptds/_ptsz
variants only: cuda.h's `#define cuGraphInstantiate cuGraphInstantiateWithFlags`
is an API-level rename the driver's lookup does not follow (checked against
driver 580: "cuGraphInstantiate" at 12000 is cuGraphInstantiate_v2).

Inputs: cuda.h, and beside it cudaTypedefs.h, cudaProfiler(Typedefs).h and
cudaGL(Typedefs).h when present (the real driver exports the profiler and
OpenGL interop entry points too; GL/gl.h is replaced by a two-line stand-in).

Outputs (in --out):
  stubs.cc         a weak `CUresult NAME()` returning CUDA_ERROR_NOT_SUPPORTED for
                   every exported name; real implementations are strong
                   definitions elsewhere and win at link time.
  proc_table.inc   SIM_PROC_DECLARE(name) for names cuda.h does not declare, then
                   SIM_PROC("base", version, per_thread, name) sorted by base,
                   per_thread, version: the cuGetProcAddress table.
  error_names.inc  SIM_ERROR(value, "CUDA_ERROR_...") for every CUresult value.

Python 3 standard library only; run by native/sim/CMakeLists.txt.
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile

# Entry points that programs import but CUDA 13's headers no longer (or never)
# declare for Linux. Each is exported so such binaries still link and load.
# (name, CUDA version it was introduced in)
EXTRA_ENTRY_POINTS = [
    # JCuda 12.0.0's libJCudaDriver imports these; they live in cudaGL.h and
    # cudaProfiler.h, which are scanned when installed, but a toolkit install
    # without them must not make JCuda fail to load.
    ("cuProfilerInitialize", 4000),  # deprecated, removed from newer headers
    ("cuProfilerStart", 4000),
    ("cuProfilerStop", 4000),
    ("cuGLInit", 2000),
    ("cuGLCtxCreate_v2", 3020),
    ("cuGLGetDevices_v2", 6050),
    ("cuGLMapBufferObject_v2", 3020),
    ("cuGLMapBufferObjectAsync_v2", 3020),
    ("cuGLRegisterBufferObject", 2000),
    ("cuGLSetBufferObjectMapFlags", 2030),
    ("cuGLUnmapBufferObject", 2000),
    ("cuGLUnmapBufferObjectAsync", 2030),
    ("cuGLUnregisterBufferObject", 2000),
    ("cuGraphicsGLRegisterBuffer", 3000),
    ("cuGraphicsGLRegisterImage", 3000),
]

DECL_RE = re.compile(r"\bCUresult\s+(cu\w+)\s*\(")
PFN_RE = re.compile(r"\(\s*(?:CUDAAPI\s+)?\*\s*PFN_(cu\w+?)_v(\d+)(_ptds|_ptsz)?\s*\)")
ERROR_ENUM_RE = re.compile(r"typedef\s+enum\s+cudaError_enum\s*\{(.*?)\}\s*CUresult\s*;", re.S)
NAME_RE = re.compile(r"^(cu\w+?)(?:_v(\d+))?(_ptds|_ptsz)?$")


def split_name(name):
    """cuMemcpyHtoD_v2_ptds -> ("cuMemcpyHtoD", 2, True)."""
    m = NAME_RE.match(name)
    return m.group(1), int(m.group(2) or 1), bool(m.group(3))


def preprocess(cxx, source, include_dirs):
    cmd = [cxx, "-E", "-P", "-D__CUDA_API_VERSION_INTERNAL", "-x", "c++"]
    for d in include_dirs:
        cmd += ["-I", d]
    cmd.append(source)
    result = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            universal_newlines=True)
    if result.returncode != 0:
        raise RuntimeError("%s failed:\n%s" % (" ".join(cmd), result.stderr))
    return result.stdout


def collect(cxx, cuda_h):
    inc = os.path.dirname(os.path.abspath(cuda_h))
    cuda_text = preprocess(cxx, cuda_h, [inc])
    cuda_names = set(DECL_RE.findall(cuda_text))
    if not cuda_names:
        raise RuntimeError("no CUresult declarations found in " + cuda_h)

    # Everything the driver exports, with the typedef headers for versions.
    with tempfile.TemporaryDirectory() as tmp:
        os.makedirs(os.path.join(tmp, "GL"))
        with open(os.path.join(tmp, "GL", "gl.h"), "w") as f:
            f.write("typedef unsigned int GLuint;\ntypedef unsigned int GLenum;\n")
        wrapper = os.path.join(tmp, "all.h")
        optional = ["cudaTypedefs.h", "cudaProfilerTypedefs.h", "cudaGLTypedefs.h"]
        with open(wrapper, "w") as f:
            f.write('#include "%s"\n' % os.path.abspath(cuda_h))
            for header in optional:
                if os.path.exists(os.path.join(inc, header)):
                    f.write("#include <%s>\n" % header)
        try:
            all_text = preprocess(cxx, wrapper, [inc, tmp])
        except RuntimeError as e:  # an unusual toolkit layout: cuda.h alone
            sys.stderr.write("gen_driver_api.py: note: %s; using cuda.h alone\n" % e)
            all_text = cuda_text

    names = set(DECL_RE.findall(all_text)) | cuda_names
    versions = {}  # (base, per_thread) -> sorted introduction versions
    for base, ver, pt in PFN_RE.findall(all_text):
        versions.setdefault((base, bool(pt)), []).append(int(ver))

    introduced = {}  # exported name -> version (0: unknown)
    for name, ver in EXTRA_ENTRY_POINTS:
        if name not in names:
            names.add(name)
            introduced[name] = ver

    # Zip each (base, per_thread) group's names, ordered by _vN, with the
    # typedef versions in ascending order. Where the counts disagree (a header
    # this script does not know yet) the versions are unknown (0) and lookups
    # fall back to the newest name.
    groups = {}
    for name in names:
        base, n, pt = split_name(name)
        groups.setdefault((base, pt), []).append((n, name))
    for key, members in groups.items():
        members.sort()
        vers = sorted(versions.get(key, []))
        if len(vers) == len(members):
            for (_, name), ver in zip(members, vers):
                introduced[name] = ver
        else:
            for _, name in members:
                introduced.setdefault(name, 0)

    m = ERROR_ENUM_RE.search(cuda_text)
    if not m:
        raise RuntimeError("enum cudaError_enum not found in " + cuda_h)
    errors = [(int(v), n) for n, v in re.findall(r"\b(CUDA_\w+)\s*=\s*(\d+)", m.group(1))]
    return sorted(names), cuda_names, introduced, errors


def write(path, text):
    with open(path, "w") as f:
        f.write(text)


HEADER = "// Generated by native/sim/gen_driver_api.py from %s. Do not edit.\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cxx", required=True)
    ap.add_argument("--cuda-h", required=True)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()

    names, cuda_names, introduced, errors = collect(args.cxx, args.cuda_h)
    head = HEADER % args.cuda_h

    stubs = [head,
             "// Weak stand-ins for every exported driver entry point. cuda.h is not\n"
             "// included: C linkage names cannot be redeclared with other parameters.\n",
             "typedef int CUresult;\n",
             "#define SIM_NOT_SUPPORTED 801 /* CUDA_ERROR_NOT_SUPPORTED */\n",
             "#define SIM_STUB(name) extern \"C\" __attribute__((weak, visibility(\"default\"))) "
             "CUresult name() { return SIM_NOT_SUPPORTED; }\n"]
    stubs += ["SIM_STUB(%s)\n" % n for n in names]
    write(os.path.join(args.out, "stubs.cc"), "".join(stubs))

    rows = []
    for name in names:
        base, _, pt = split_name(name)
        rows.append((base, int(pt), introduced.get(name, 0), split_name(name)[1], name))
    rows.sort()
    table = [head,
             "// SIM_PROC_DECLARE(name): exported names cuda.h does not declare.\n"
             "// SIM_PROC(base, introduced, per_thread, name), sorted by base, per_thread,\n"
             "// introduced: what cuGetProcAddress(base, version, flags) can return.\n"]
    table += ["SIM_PROC_DECLARE(%s)\n" % n for n in names if n not in cuda_names]
    table += ['SIM_PROC("%s", %d, %d, %s)\n' % (b, v, pt, n) for b, pt, v, _, n in rows]
    write(os.path.join(args.out, "proc_table.inc"), "".join(table))

    errs = [head] + ['SIM_ERROR(%d, "%s")\n' % e for e in sorted(errors)]
    write(os.path.join(args.out, "error_names.inc"), "".join(errs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
