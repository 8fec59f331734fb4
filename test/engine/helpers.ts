import { expect } from "vitest";
import { tf } from "../../src/engine/index.js";
import { loadNativeAddon, type NativeAddon } from "../../src/engine/addon.js";
import { registerNativeKernels, type KernelRegistration } from "../../src/engine/kernels/index.js";
import { Rng } from "../../src/util/rng.js";

/**
 * Sets the cpu backend up *without* initEngine, so the test controls when the native kernels
 * are registered and can run the same computation on both.
 */
export async function loadAddonForTests(): Promise<NativeAddon | null> {
  await tf.setBackend("cpu");
  await tf.ready();
  return loadNativeAddon().addon;
}

function run(fn: () => tf.Tensor | tf.Tensor[]) {
  const out = tf.tidy(fn);
  const list = Array.isArray(out) ? out : [out];
  const res = list.map((t) => ({ shape: t.shape, values: Float32Array.from(t.dataSync() as Float32Array) }));
  tf.dispose(list);
  return res;
}

/**
 * Runs `fn` on the native kernels and on the cpu backend's JS kernels, and requires every
 * output to agree within 1e-4 of the reference output's largest magnitude.
 */
export function expectNativeMatchesJs(addon: NativeAddon, label: string, fn: () => tf.Tensor | tf.Tensor[]): void {
  expectKernelsMatchTfjs(() => registerNativeKernels(addon), label, fn);
}

/** The same check for any set of kernels registered by `register` over tfjs's own. */
export function expectKernelsMatchTfjs(register: () => KernelRegistration, label: string, fn: () => tf.Tensor | tf.Tensor[]): void {
  const reg = register();
  let native;
  try {
    native = run(fn);
  } finally {
    reg.restore();
  }
  const ref = run(fn);
  expect(native.length, label).toBe(ref.length);
  native.forEach((n, i) => {
    expect(n.shape, `${label}: output ${i} shape`).toEqual(ref[i].shape);
    let scale = 1e-6;
    for (const v of ref[i].values) if (Number.isFinite(v)) scale = Math.max(scale, Math.abs(v));
    for (let j = 0; j < n.values.length; j++) {
      const a = n.values[j];
      const b = ref[i].values[j];
      if (Number.isNaN(b) || !Number.isFinite(b)) {
        expect(Object.is(a, b) || (Number.isNaN(a) && Number.isNaN(b)), `${label}: output ${i}[${j}] native ${a} vs js ${b}`).toBe(true);
        continue;
      }
      if (!(Math.abs(a - b) <= 1e-4 * scale)) throw new Error(`${label}: output ${i}[${j}] native ${a} vs js ${b} (scale ${scale})`);
    }
  });
}

export function randn(rng: Rng, shape: number[]): tf.Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const v = new Float32Array(n);
  for (let i = 0; i < n; i++) v[i] = rng.normal();
  return tf.tensor(v, shape);
}
