// Builds the native kernel pack during `npm install` / `npm ci`. A failed build is not an
// install failure: lavit then runs on the JS kernels and says so once at run time.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";

if (!existsSync("native/binding.gyp")) process.exit(0);
const r = spawnSync("node-gyp", ["rebuild", "--directory=native"], { stdio: "inherit", shell: process.platform === "win32" });
if (r.status !== 0) {
  console.warn("lavit: the native kernel pack could not be built; lavit will use the (much slower) JS kernels.");
}
