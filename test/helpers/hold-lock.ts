import { acquireLock } from "../../src/util/lock.js";

// Test helper: takes the lock of argv[2], says so, then holds it until killed, or exits at once
// with "exit" as argv[3] (the lock must then be released by the exit handler).
acquireLock(process.argv[2]);
process.stdout.write("locked\n");
if (process.argv[3] === "exit") process.exit(0);
setInterval(() => {}, 1000);
