{
  "variables": {
    "use_openblas%": "<!(node detect-openblas.cjs)"
  },
  "targets": [
    {
      "target_name": "lavit_native",
      "sources": ["addon.cc", "gemm.cc", "elementwise.cc", "reduce.cc", "fused.cc", "attention.cc", "loss.cc"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions"],
      "cflags_cc": ["-O3", "-std=c++17", "-fno-math-errno", "-ffp-contract=fast", "-march=x86-64-v2", "-mtune=generic"],
      "libraries": ["-lpthread"],
      "conditions": [
        ["use_openblas==1", {
          "defines": ["LAVIT_OPENBLAS=1"],
          "libraries": ["-lopenblas"]
        }]
      ]
    }
  ]
}
