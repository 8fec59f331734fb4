import { tf } from "../engine/index.js";
import { decoderForward, embedWithImage, lmLogits, projectVision, visionForward, type KvCache, type Vlm } from "./vlm.js";

export interface GenerateOptions {
  maxNewTokens: number;
  eos: number;
  /** Off only to test that the cache changes nothing. */
  useCache?: boolean;
  /** Additive attention bias [1|B, 1, T, Tk] built for a query/key length (gating probes). */
  biasFor?: (queryLength: number, keyLength: number, queryStart: number) => tf.Tensor | undefined;
}

function argmaxRows(logits: tf.Tensor2D): number[] {
  const ids = tf.argMax(logits, -1);
  const out = Array.from(ids.dataSync() as Int32Array);
  ids.dispose();
  return out;
}

/**
 * Greedy decoding for a batch of prompts of equal length (callers group by length, so no
 * padding and no position shifts are needed). Returns the generated ids of each row, up to
 * and including <eos> when it was produced.
 */
export function generateGreedy(vlm: Vlm, patches: tf.Tensor3D, prompts: readonly number[][], opts: GenerateOptions): number[][] {
  const b = prompts.length;
  const t0 = prompts[0].length;
  if (prompts.some((p) => p.length !== t0)) throw new Error("generateGreedy: prompts must have equal length");
  const useCache = opts.useCache ?? true;
  const out: number[][] = prompts.map(() => []);
  const done = new Array<boolean>(b).fill(false);
  const image = tf.tidy(() => projectVision(vlm, visionForward(vlm, patches)));
  let cache: KvCache | null = null;
  try {
    let next: number[];
    {
      const r = tf.tidy(() => {
        const ids = tf.tensor2d(prompts.flat(), [b, t0], "int32");
        const dec = decoderForward(vlm, embedWithImage(vlm, ids, image), { bias: opts.biasFor?.(t0, t0, 0) });
        const last = tf.reshape(tf.slice(dec.hidden, [0, t0 - 1, 0], [b, 1, -1]), [b, -1]);
        const logits = lmLogits(vlm, last) as tf.Tensor2D;
        if (useCache) for (const l of dec.cache.layers) tf.keep(l.k), tf.keep(l.v);
        return { logits, layers: useCache ? dec.cache.layers : [] };
      });
      next = argmaxRows(r.logits);
      r.logits.dispose();
      if (useCache) cache = { layers: r.layers, length: t0 };
    }
    const table = vlm.store.get("model.embed_tokens.weight") as tf.Tensor2D;
    for (let step = 0; step < opts.maxNewTokens; step++) {
      for (let i = 0; i < b; i++) {
        if (done[i]) continue;
        out[i].push(next[i]);
        if (next[i] === opts.eos) done[i] = true;
      }
      if (done.every(Boolean) || step === opts.maxNewTokens - 1) break;
      if (useCache && cache) {
        const past: KvCache = cache;
        const r = tf.tidy(() => {
          const x = tf.reshape(tf.gather(table, tf.tensor1d(next, "int32")), [b, 1, -1]) as tf.Tensor3D;
          const dec = decoderForward(vlm, x, { past, bias: opts.biasFor?.(1, past.length + 1, past.length) });
          for (const l of dec.cache.layers) tf.keep(l.k), tf.keep(l.v);
          return { logits: lmLogits(vlm, tf.reshape(dec.hidden, [b, -1])) as tf.Tensor2D, layers: dec.cache.layers };
        });
        for (const l of past.layers) tf.dispose([l.k, l.v]);
        cache = { layers: r.layers, length: past.length + 1 };
        next = argmaxRows(r.logits);
        r.logits.dispose();
      } else {
        const len = t0 + step + 1;
        const logits = tf.tidy(() => {
          const ids = tf.tensor2d(prompts.map((p, i) => [...p, ...out[i], ...new Array(step + 1 - out[i].length).fill(opts.eos)]).flat(), [b, len], "int32");
          const dec = decoderForward(vlm, embedWithImage(vlm, ids, image), { bias: opts.biasFor?.(len, len, 0) });
          return lmLogits(vlm, tf.reshape(tf.slice(dec.hidden, [0, len - 1, 0], [b, 1, -1]), [b, -1])) as tf.Tensor2D;
        });
        next = argmaxRows(logits);
        logits.dispose();
      }
    }
  } finally {
    image.dispose();
    if (cache) for (const l of cache.layers) tf.dispose([l.k, l.v]);
  }
  return out;
}
