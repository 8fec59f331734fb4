// Builds the native kernel pack during `npm install` / `npm ci`. A failed build is not an
// install failure: lavit then runs on the JS kernels and says so once at run time.
//
// A build of the same sources for the same Node ABI is kept: `npx lavit` re-runs the install
// script on its first run in a folder, and rebuilding there delayed every fresh clone's first
// command by 10-20 s.
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

if (!existsSync("native/binding.gyp")) process.exit(0);
const ADDON = "native/build/Release/lavit_native.node";
const STAMP = "native/build/lavit-build.json";

const hash = createHash("sha256");
for (const f of readdirSync("native").sort())
  if (/\.(cc|h|gyp|cjs)$/.test(f))
    hash
      .update(f)
      .update("\0")
      .update(readFileSync(join("native", f)));
const stamp = JSON.stringify({ abi: process.versions.modules, node: process.version, sources: hash.digest("hex") });

const kept = existsSync(ADDON) && existsSync(STAMP) && readFileSync(STAMP, "utf8") === stamp;
if (!kept) {
  const r = spawnSync("node-gyp", ["rebuild", "--directory=native"], { stdio: "inherit", shell: process.platform === "win32" });
  if (r.status === 0) writeFileSync(STAMP, stamp);
  else console.warn("lavit: the native kernel pack could not be built; lavit will use the (much slower) JS kernels.");
}
