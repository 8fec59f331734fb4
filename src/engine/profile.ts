import { tf } from "./index.js";
import { activeAddon } from "./addon.js";
import type { KernelConfig, KernelFunc } from "@tensorflow/tfjs-core";

export interface KernelTime {
  kernel: string;
  calls: number;
  ms: number;
}

/**
 * Times every cpu kernel while `fn` runs (by wrapping the registered kernel functions, which
 * are what actually execute, native or JS) and restores the registry afterwards. Kernels
 * that call other kernels (fused matmul's gradient, for instance) count inclusively. The
 * engine's fused operations (attention, RMSNorm, ...) are no tfjs kernels: their calls into
 * the native pack made outside any kernel are timed as `native:<function>`.
 */
export async function withKernelProfile<T>(fn: () => Promise<T> | T): Promise<{ result: T; table: KernelTime[] }> {
  const totals = new Map<string, KernelTime>();
  let depth = 0;
  const record = (name: string, ms: number) => {
    const row = totals.get(name) ?? { kernel: name, calls: 0, ms: 0 };
    row.calls += 1;
    row.ms += ms;
    totals.set(name, row);
  };
  const originals: KernelConfig[] = tf.getKernelsForBackend("cpu").map((k) => ({ ...k }));
  for (const k of originals) {
    const inner: KernelFunc = k.kernelFunc;
    const timed = ((args: Parameters<KernelFunc>[0]) => {
      const t0 = performance.now();
      depth++;
      try {
        return inner(args);
      } finally {
        depth--;
        record(k.kernelName, performance.now() - t0);
      }
    }) as KernelFunc;
    tf.unregisterKernel(k.kernelName, "cpu");
    tf.registerKernel({ ...k, kernelFunc: timed });
  }
  const addon = activeAddon() as unknown as Record<string, unknown> | null;
  const addonOriginals = new Map<string, (...args: unknown[]) => unknown>();
  for (const [name, f] of Object.entries(addon ?? {})) {
    if (typeof f !== "function") continue;
    const inner = f as (...args: unknown[]) => unknown;
    addonOriginals.set(name, inner);
    addon![name] = (...args: unknown[]) => {
      if (depth > 0) return inner(...args);
      const t0 = performance.now();
      try {
        return inner(...args);
      } finally {
        record(`native:${name}`, performance.now() - t0);
      }
    };
  }
  try {
    const result = await fn();
    return { result, table: [...totals.values()].sort((a, b) => b.ms - a.ms) };
  } finally {
    for (const k of originals) {
      tf.unregisterKernel(k.kernelName, "cpu");
      tf.registerKernel(k);
    }
    for (const [name, f] of addonOriginals) (addon as Record<string, unknown>)[name] = f;
  }
}

export function formatKernelTable(table: KernelTime[], wallMs: number, top = 15): string {
  const lines = [`${"kernel".padEnd(22)} ${"calls".padStart(7)} ${"ms".padStart(9)} ${"% wall".padStart(7)}`];
  for (const r of table.slice(0, top)) {
    lines.push(`${r.kernel.padEnd(22)} ${String(r.calls).padStart(7)} ${r.ms.toFixed(1).padStart(9)} ${((100 * r.ms) / wallMs).toFixed(1).padStart(7)}`);
  }
  const kernelMs = table.reduce((a, r) => a + r.ms, 0);
  lines.push(`${"(all timed)".padEnd(22)} ${"".padStart(7)} ${kernelMs.toFixed(1).padStart(9)} ${((100 * kernelMs) / wallMs).toFixed(1).padStart(7)}`);
  return lines.join("\n");
}
