// Links the project's own command into node_modules/.bin when it is installed as a project
// (`npm ci` in a clone), not as someone's dependency (npm links a dependency's bins itself).
// Why: `npx lavit` finds a project's own command only there; without the link, npm exec first
// installs the project into itself, re-running its prepare and install scripts (a build of
// dist/ and of the native addon, about 20 s) before the command starts.
import { existsSync, lstatSync, mkdirSync, symlinkSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";

const root = process.cwd();
if (basename(dirname(resolve(root))) === "node_modules") process.exit(0);
const bin = join(root, "node_modules", ".bin");
const link = join(bin, "lavit");
const present = (() => {
  try {
    lstatSync(link);
    return true;
  } catch {
    return false;
  }
})();
if (!present && existsSync(join(root, "bin", "lavit.js"))) {
  mkdirSync(bin, { recursive: true });
  symlinkSync(join("..", "..", "bin", "lavit.js"), link);
}
