import { fork, type ChildProcess } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import cliProgress from "cli-progress";
import { UserError } from "../errors.js";
import { onInterrupt } from "../util/interrupt.js";
import { formatPayload, progress, type Progress, type ProgressMessage } from "../util/progress.js";
import type { WorkerReply, WorkerTask } from "./worker.js";

/** One piece of work for a worker process: a name for the display, and what to run. */
export interface Job {
  name: string;
  task: WorkerTask;
}

/**
 * How to share the machine between jobs (students, study cells): at most one job per thread, and each job gets
 * an equal share of the threads. Why processes: a training step keeps two threads only about
 * 70% busy (the JS between kernels is serial), so two one-thread students side by side finish
 * about a quarter sooner than the same two one after the other on two threads. `cells` is the
 * whole run's count, not what is left of it, so a resumed run gives its jobs the same threads.
 */
export function planJobs(cells: number, threads: number, requested?: number): { jobs: number; threadsPerJob: number } {
  const jobs = Math.max(1, Math.min(cells, requested ?? threads));
  return { jobs, threadsPerJob: Math.max(1, Math.floor(threads / jobs)) };
}

const here = fileURLToPath(import.meta.url);
// From source (tests, tsx) the worker is TypeScript and needs tsx's loader; from dist it is plain JS.
const fromSource = here.endsWith(".ts");
const workerFile = join(dirname(here), fromSource ? "worker.ts" : "worker.js");

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
 * Runs jobs in child processes, `jobs` at a time, each with `threadsPerJob` native threads
 * (LAVIT_THREADS), reporting progress in one display. A job's result is what the same stage
 * gives run alone with `LAVIT_THREADS=<threadsPerJob>`. `next` hands out the next job when a
 * lane is free (null: none is ready yet; the lane waits for a running job to end; undefined:
 * no more jobs). Resolves once all have finished; the first failure stops the others (their
 * checkpoints stay, so a resume continues them) and is rethrown, as a UserError when it was one.
 */
export async function runInProcesses(
  next: () => Job | null | undefined,
  plan: { jobs: number; threadsPerJob: number },
  opts: { quiet: boolean; onFinish?: (job: Job, seconds: number) => void },
): Promise<void> {
  const view = display(opts.quiet);
  const running = new Set<ChildProcess>();
  const killAll = () => {
    for (const child of running) child.kill();
  };
  // A parent stopped by a signal takes its workers with it (their checkpoints stay for --resume).
  process.once("exit", killAll);
  const settle = onInterrupt(killAll);
  let failure: Error | null = null;
  let waiting: (() => void)[] = [];
  const wake = () => {
    const w = waiting;
    waiting = [];
    for (const r of w) r();
  };
  const runOne = (job: Job) =>
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
        if (r?.type === "done" && code === 0) opts.onFinish?.(job, (performance.now() - t0) / 1000);
        else if (!failure) {
          if (r?.type === "error") failure = r.user ? new UserError(r.message) : new Error(`${job.name}: ${r.message}`);
          else failure = new Error(`${job.name}: the worker process ended (${signal ?? `exit code ${code}`}) without finishing`);
          killAll();
        }
        resolve();
        wake();
      });
      child.send(job.task);
    });
  const lane = async () => {
    while (!failure) {
      const job = next();
      if (job === undefined) return;
      if (job === null) {
        // Nothing is ready until a running job ends; with none running, nothing ever will be.
        if (!running.size) throw new Error("no job is ready and none is running (a job waits on one that was never scheduled)");
        await new Promise<void>((r) => waiting.push(r));
        continue;
      }
      await runOne(job);
    }
  };
  try {
    await Promise.all(Array.from({ length: plan.jobs }, lane));
  } finally {
    view.stop();
    process.removeListener("exit", killAll);
    settle();
  }
  if (failure) throw failure;
}

/** Runs a fixed list of jobs (see runInProcesses). */
export function runJobs(
  jobs: readonly Job[],
  plan: { jobs: number; threadsPerJob: number },
  opts: { quiet: boolean; onFinish?: (job: Job, seconds: number) => void },
): Promise<void> {
  const queue = [...jobs];
  return runInProcesses(() => queue.shift(), plan, opts);
}
