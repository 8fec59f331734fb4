import cliProgress from "cli-progress";

export interface Progress {
  tick(n?: number, payload?: Record<string, string | number>): void;
  stop(): void;
}

/**
 * A progress bar on stderr (stdout stays clean for --json). Off when stderr is not a TTY or
 * LAVIT_NO_PROGRESS is set, so logs and tests are not flooded with redraws; in that case a
 * plain line is printed every ~10% instead so long work still shows life.
 */
export function progress(label: string, total: number, opts: { quiet?: boolean } = {}): Progress {
  if (opts.quiet) return { tick() {}, stop() {} };
  if (process.stderr.isTTY && !process.env.LAVIT_NO_PROGRESS) {
    const bar = new cliProgress.SingleBar(
      { format: `${label} [{bar}] {value}/{total} {percentage}% eta {eta_formatted} {info}`, stream: process.stderr, hideCursor: true },
      cliProgress.Presets.shades_classic,
    );
    bar.start(total, 0, { info: "" });
    return {
      tick(n = 1, payload) {
        const info = payload ? Object.entries(payload).map(([k, v]) => `${k}=${v}`).join(" ") : "";
        bar.increment(n, { info });
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
        const info = payload ? " " + Object.entries(payload).map(([k, v]) => `${k}=${v}`).join(" ") : "";
        process.stderr.write(`${label}: ${done}/${total} (${((Date.now() - start) / 1000).toFixed(1)}s)${info}\n`);
        nextReport = done + Math.max(1, Math.ceil(total / 10));
      }
    },
    stop() {},
  };
}
