/**
 * SIGINT, SIGTERM and SIGHUP stop lavit promptly and cleanly: the clean-ups registered here run
 * (temp folders removed, locks released; the last registered first), then the process dies of
 * the signal as it would have without a listener. Node runs signal listeners only when the event
 * loop is free, so every long loop awaits `breathe()` once per item.
 */
const SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP"] as const;
const cleanups = new Set<() => void>();
let installed = false;

function install(): void {
  if (installed) return;
  installed = true;
  for (const signal of SIGNALS) {
    const onSignal = () => {
      for (const fn of [...cleanups].reverse()) {
        try {
          fn();
        } catch {
          // a clean-up that fails (a folder already gone) must not keep the others from running
        }
      }
      cleanups.clear();
      process.removeListener(signal, onSignal);
      // Nobody else handles it: die of the signal as Node would have without this listener.
      if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
    };
    process.on(signal, onSignal);
  }
}

/** Runs `fn` if the process is stopped by a signal, until the returned function is called. */
export function onInterrupt(fn: () => void): () => void {
  install();
  cleanups.add(fn);
  return () => {
    cleanups.delete(fn);
  };
}

/** How long synchronous work may keep the event loop (and so a Ctrl-C) waiting. */
export const BREATHE_MS = 200;
let lastBreath = performance.now();

/**
 * Lets pending signal listeners (and background clean-up) run once BREATHE_MS have passed since
 * the last time; otherwise nothing (undefined, so `await breathe()` in a tight loop costs a
 * microtask). Long loops call it once per item: a SIGTERM then stops them within about 0.2 s
 * plus one item.
 */
export function breathe(): Promise<void> | undefined {
  if (performance.now() - lastBreath < BREATHE_MS) return undefined;
  return new Promise((resolve) =>
    setImmediate(() => {
      lastBreath = performance.now();
      resolve();
    }),
  );
}
