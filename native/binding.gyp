# Node-API addon with native SGEMM for the TensorFlow.js WASM backend (see src/addon.c).
# OpenBLAS is linked when detect-openblas.mjs finds it (Debian: libopenblas-dev); the portable blocked
# SGEMM is always compiled in, for the host's SIMD (-march=native: the addon is built where it runs).
{
  "variables": {
    "have_openblas%": "<!(node ./detect-openblas.mjs found)",
  },
  "targets": [
    {
      "target_name": "tributary_blas",
      "sources": ["src/addon.c", "src/portable_sgemm.c"],
      "cflags_c": ["-std=gnu11", "-O3", "-march=native", "-fno-math-errno", "-fvisibility=hidden", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "cflags!": ["-O2"],
      "libraries": ["-lpthread", "-lm"],
      "conditions": [
        [
          "have_openblas==1",
          {
            "defines": ["TRIBUTARY_HAVE_OPENBLAS"],
            "cflags_c": ["<!@(node ./detect-openblas.mjs cflags)"],
            "libraries": ["<!@(node ./detect-openblas.mjs libs)"],
          },
        ],
      ],
    }
  ],
}
