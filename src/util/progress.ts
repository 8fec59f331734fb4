import cliProgress from "cli-progress";

/** What a worker process (LAVIT_PROGRESS_IPC=1) sends its parent instead of drawing a bar. */
export interface ProgressMessage {
  type: "progress";
  label: string;
  done: number;
  total: number;
  payload?: ProgressPayload;
}

export type ProgressPayload = Record<string, string | number>;

/** A tick's payload as the bars and lines show it: `loss=0.52 lr=0.001`. */
export function formatPayload(payload?: ProgressPayload): string {
  return payload
    ? Object.entries(payload)
        .map(([k, v]) => `${k}=${v}`)
        .join(" ")
    : "";
}

export interface Progress {
  tick(n?: number, payload?: ProgressPayload): void;
  stop(): void;
}

/**
 * A progress bar on stderr (stdout stays clean for --json). Off when stderr is not a TTY or
 * LAVIT_NO_PROGRESS is set, so logs and tests are not flooded with redraws; in that case a
 * plain line is printed every ~10% instead so long work still shows life. In a worker process
 * started with LAVIT_PROGRESS_IPC=1 the counts go to the parent, which draws them.
 */
export function progress(label: string, total: number, opts: { quiet?: boolean } = {}): Progress {
  if (opts.quiet) return { tick() {}, stop() {} };
  const send = process.send?.bind(process);
  if (send && process.env.LAVIT_PROGRESS_IPC === "1") {
    let done = 0;
    const parent = process.ppid;
    return {
      tick(n = 1, payload) {
        // Long work never yields to the event loop, so a parent's death (SIGKILL) is only seen
        // here: an orphaned worker would go on writing into a folder a rerun may be using.
        if (process.ppid !== parent) process.exit(130);
        done += n;
        send({ type: "progress", label, done, total, ...(payload ? { payload } : {}) } satisfies ProgressMessage);
      },
      stop() {},
    };
  }
  if (process.stderr.isTTY && !process.env.LAVIT_NO_PROGRESS) {
    const bar = new cliProgress.SingleBar(
      { format: `${label} [{bar}] {value}/{total} {percentage}% eta {eta_formatted} {info}`, stream: process.stderr, hideCursor: true },
      cliProgress.Presets.shades_classic,
    );
    bar.start(total, 0, { info: "" });
    return {
      tick(n = 1, payload) {
        bar.increment(n, { info: formatPayload(payload) });
      },
      stop() {
        bar.stop();
      },
    };
  }
  let done = 0;
  let nextReport = Math.max(1, Math.ceil(total / 10));
  const start = Date.now();
  return {
    tick(n = 1, payload) {
      done += n;
      if (done >= nextReport || done === total) {
        const info = payload ? " " + formatPayload(payload) : "";
        process.stderr.write(`${label}: ${done}/${total} (${((Date.now() - start) / 1000).toFixed(1)}s)${info}\n`);
        nextReport = done + Math.max(1, Math.ceil(total / 10));
      }
    },
    stop() {},
  };
}
