// `npm run build` unless dist/ is newer than every source and config it is built from: `npx
// lavit` re-runs the prepare script on its first run in a folder, and a needless build
// delayed every fresh clone's first command by several seconds. `npm test` always builds.
import { spawnSync } from "node:child_process";
import { existsSync, statSync } from "node:fs";
import { newest } from "./newest.mjs";

const configs = ["tsconfig.json", "tsconfig.build.json", "package.json"].filter(existsSync).map((f) => statSync(f).mtimeMs);
const built = existsSync("dist/cli/run.js") && newest("dist", ".js") >= Math.max(newest("src", ".ts"), ...configs);
if (!built) {
  const r = spawnSync("npm", ["run", "build"], { stdio: "inherit", shell: process.platform === "win32" });
  process.exit(r.status ?? 1);
}
