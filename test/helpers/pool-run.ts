import { join } from "node:path";
import { runJobs } from "../../src/study/pool.js";

// Test helper: runs one long `data` job in a worker process through the pool (minutes of work)
// and waits; the test stops this parent with a signal and watches the worker.
const out = process.argv[2]!;
void runJobs(
  [{ name: "data", task: { kind: "data", options: { out: join(out, "data"), teacherTrain: 1_000_000, train: 1, test: 2, quiet: true } } }],
  { jobs: 1, threadsPerJob: 1 },
  { quiet: true },
);
process.stdout.write("started\n");
