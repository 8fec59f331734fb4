import { fork } from "node:child_process";
import { join } from "node:path";

// Test helper: forks a demo student worker the way parallel.ts does, prints its pid, and then
// waits (the test kills this parent with SIGKILL and watches the worker).
const worker = fork(join(process.cwd(), "src", "study", "worker.ts"), [], {
  execArgv: ["--import", "tsx", "--import", join(process.cwd(), "test", "helpers", "keep-alive.mjs")],
  stdio: ["ignore", "inherit", "inherit", "ipc"],
});
worker.on("spawn", () => process.stdout.write(`worker ${worker.pid}\n`));
setInterval(() => {}, 1000);
