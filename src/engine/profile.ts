import { tf } from "./index.js";
import type { KernelConfig, KernelFunc } from "@tensorflow/tfjs-core";

export interface KernelTime {
  kernel: string;
  calls: number;
  ms: number;
}

/**
 * Times every cpu kernel while `fn` runs (by wrapping the registered kernel functions, which
 * are what actually execute, native or JS) and restores the registry afterwards. Kernels
 * that call other kernels (fused matmul's gradient, for instance) count inclusively.
 */
export async function withKernelProfile<T>(fn: () => Promise<T> | T): Promise<{ result: T; table: KernelTime[] }> {
  const totals = new Map<string, KernelTime>();
  const originals: KernelConfig[] = tf.getKernelsForBackend("cpu").map((k) => ({ ...k }));
  for (const k of originals) {
    const inner: KernelFunc = k.kernelFunc;
    const timed = ((args: Parameters<KernelFunc>[0]) => {
      const t0 = performance.now();
      const out = inner(args);
      const row = totals.get(k.kernelName) ?? { kernel: k.kernelName, calls: 0, ms: 0 };
      row.calls += 1;
      row.ms += performance.now() - t0;
      totals.set(k.kernelName, row);
      return out;
    }) as KernelFunc;
    tf.unregisterKernel(k.kernelName, "cpu");
    tf.registerKernel({ ...k, kernelFunc: timed });
  }
  try {
    const result = await fn();
    return { result, table: [...totals.values()].sort((a, b) => b.ms - a.ms) };
  } finally {
    for (const k of originals) {
      tf.unregisterKernel(k.kernelName, "cpu");
      tf.registerKernel(k);
    }
  }
}

export function formatKernelTable(table: KernelTime[], wallMs: number, top = 15): string {
  const lines = [`${"kernel".padEnd(22)} ${"calls".padStart(7)} ${"ms".padStart(9)} ${"% wall".padStart(7)}`];
  for (const r of table.slice(0, top)) {
    lines.push(`${r.kernel.padEnd(22)} ${String(r.calls).padStart(7)} ${r.ms.toFixed(1).padStart(9)} ${((100 * r.ms) / wallMs).toFixed(1).padStart(7)}`);
  }
  const kernelMs = table.reduce((a, r) => a + r.ms, 0);
  lines.push(`${"(all kernels)".padEnd(22)} ${"".padStart(7)} ${kernelMs.toFixed(1).padStart(9)} ${((100 * kernelMs) / wallMs).toFixed(1).padStart(7)}`);
  return lines.join("\n");
}
