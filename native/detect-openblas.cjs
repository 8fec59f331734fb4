// Prints "1" when a program using OpenBLAS's cblas.h compiles and links here, "0" otherwise.
// binding.gyp uses it to choose between OpenBLAS and the built-in GEMM at build time.
const { spawnSync } = require("node:child_process");
const probe = `#include <cblas.h>
int main(){ float a=1,b=1,c=0; openblas_set_num_threads(1);
cblas_sgemm(CblasRowMajor,CblasNoTrans,CblasNoTrans,1,1,1,1.f,&a,1,&b,1,0.f,&c,1); return c==1.f?0:1; }`;
const cxx = process.env.CXX || "g++";
const r = spawnSync(cxx, ["-x", "c++", "-", "-lopenblas", "-o", "/dev/null"], { input: probe, stdio: ["pipe", "ignore", "ignore"] });
process.stdout.write(r.status === 0 ? "1" : "0");
