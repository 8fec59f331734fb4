import { fork, type ChildProcess } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import cliProgress from "cli-progress";
import type { StudentOptions } from "../stages/train-student.js";
import { UserError } from "../errors.js";
import { formatPayload, progress, type Progress, type ProgressMessage } from "../util/progress.js";
import type { WorkerReply } from "./student-worker.js";

export interface StudentJob {
  name: string;
  options: StudentOptions;
}

/**
 * How to share the machine between students: at most one job per thread, and each job gets
 * an equal share of the threads. Why processes: a training step keeps two threads only about
 * 70% busy (the JS between kernels is serial), so two one-thread students side by side finish
 * about a quarter sooner than the same two one after the other on two threads.
 */
export function planJobs(pending: number, threads: number, requested?: number): { jobs: number; threadsPerJob: number } {
  const jobs = Math.max(1, Math.min(pending, requested ?? threads));
  return { jobs, threadsPerJob: Math.max(1, Math.floor(threads / jobs)) };
}

const here = fileURLToPath(import.meta.url);
// From source (tests, tsx) the worker is TypeScript and needs tsx's loader; from dist it is plain JS.
const fromSource = here.endsWith(".ts");
const workerFile = join(dirname(here), fromSource ? "student-worker.ts" : "student-worker.js");

interface Display {
  update(name: string, msg: ProgressMessage): void;
  log(name: string, line: string): void;
  stop(): void;
}

function display(quiet: boolean): Display {
  if (quiet) return { update() {}, log() {}, stop() {} };
  if (process.stderr.isTTY && !process.env.LAVIT_NO_PROGRESS) {
    const multi = new cliProgress.MultiBar(
      { format: "{name} [{bar}] {value}/{total} {percentage}% eta {eta_formatted} {info}", stream: process.stderr, hideCursor: true, clearOnComplete: false },
      cliProgress.Presets.shades_classic,
    );
    const bars = new Map<string, cliProgress.SingleBar>();
    return {
      update(name, msg) {
        let bar = bars.get(name);
        if (!bar) bars.set(name, (bar = multi.create(msg.total, 0, { name: name.padEnd(16), info: "" })));
        bar.update(msg.done, { info: formatPayload(msg.payload) });
      },
      log(name, line) {
        multi.log(`${name}: ${line}\n`);
      },
      stop() {
        multi.stop();
      },
    };
  }
  // Without a TTY each student gets the usual line-every-10% counter.
  const counters = new Map<string, { progress: Progress; done: number }>();
  return {
    update(name, msg) {
      const key = `${name} ${msg.label}`;
      let c = counters.get(key);
      if (!c) counters.set(key, (c = { progress: progress(key, msg.total), done: 0 }));
      c.progress.tick(msg.done - c.done, msg.payload);
      c.done = msg.done;
    },
    log(name, line) {
      process.stderr.write(`${name}: ${line}\n`);
    },
    stop() {},
  };
}

/**
 * Trains students in child processes, `jobs` at a time, each with `threadsPerJob` native
 * threads (LAVIT_THREADS), reporting progress in one display. A student's result is what
 * `LAVIT_THREADS=<threadsPerJob> lavit train student` gives with the same flags. Resolves
 * once all have finished; the first failure stops the others (their checkpoints stay, so a
 * resume continues them) and is rethrown, as a UserError when it was one.
 */
export async function trainInProcesses(
  students: readonly StudentJob[],
  plan: { jobs: number; threadsPerJob: number },
  opts: { quiet: boolean; onFinish?: (name: string, seconds: number) => void },
): Promise<void> {
  const view = display(opts.quiet);
  const running = new Set<ChildProcess>();
  const killAll = () => {
    for (const child of running) child.kill();
  };
  // A parent stopped by a signal takes its students with it (their checkpoints stay for --resume).
  const onSignal = (signal: NodeJS.Signals) => {
    killAll();
    process.removeListener("SIGINT", onSignal);
    process.removeListener("SIGTERM", onSignal);
    process.kill(process.pid, signal);
  };
  process.once("exit", killAll);
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  const queue = [...students];
  let failure: Error | null = null;
  const runOne = (job: StudentJob) =>
    new Promise<void>((resolve) => {
      const t0 = performance.now();
      const child = fork(workerFile, [], {
        execArgv: fromSource ? ["--import", "tsx"] : [],
        env: { ...process.env, LAVIT_THREADS: String(plan.threadsPerJob), LAVIT_PROGRESS_IPC: "1" },
        stdio: ["ignore", "inherit", "pipe", "ipc"],
      });
      running.add(child);
      let reply: WorkerReply | null = null;
      let stderr = "";
      child.stderr!.setEncoding("utf8");
      child.stderr!.on("data", (chunk: string) => {
        stderr += chunk;
        const lines = stderr.split("\n");
        stderr = lines.pop()!;
        for (const line of lines) if (line.trim()) view.log(job.name, line);
      });
      child.on("message", (msg: WorkerReply | ProgressMessage) => {
        if (msg.type === "progress") view.update(job.name, msg);
        else reply = msg;
      });
      child.on("exit", (code, signal) => {
        running.delete(child);
        if (stderr.trim()) view.log(job.name, stderr);
        const r = reply as WorkerReply | null;
        if (r?.type === "done" && code === 0) opts.onFinish?.(job.name, (performance.now() - t0) / 1000);
        else if (!failure) {
          if (r?.type === "error") failure = r.user ? new UserError(r.message) : new Error(`training ${job.name}: ${r.message}`);
          else failure = new Error(`training ${job.name}: the worker process ended (${signal ?? `exit code ${code}`}) without finishing`);
          killAll();
        }
        resolve();
      });
      child.send(job.options);
    });
  const lane = async () => {
    for (let job = queue.shift(); job && !failure; job = queue.shift()) await runOne(job);
  };
  try {
    await Promise.all(Array.from({ length: plan.jobs }, lane));
  } finally {
    view.stop();
    process.removeListener("exit", killAll);
    process.removeListener("SIGINT", onSignal);
    process.removeListener("SIGTERM", onSignal);
  }
  if (failure) throw failure;
}
