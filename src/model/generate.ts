import { tf } from "../engine/index.js";
import { imageRowsAttention } from "./readout.js";
import { checkPositions, numPatches } from "./config.js";
import { NEG_INF } from "./nn.js";
import { decoderForward, embedWithImage, IMAGE_START, lmLogits, projectVision, trajHeadLogits, visionForward, type KvCache, type Vlm } from "./vlm.js";

export interface GenerateOptions {
  maxNewTokens: number;
  eos: number;
  /** Off only to test that the cache changes nothing. */
  useCache?: boolean;
  /** Additive attention bias [1|B, 1, T, Tk] built for a query/key length (gating probes). */
  biasFor?: (queryLength: number, keyLength: number, queryStart: number) => tf.Tensor | undefined;
  /**
   * Also read, while decoding, where each generated token was produced from: the attention of
   * the query that predicted it to the image tokens (averaged over layers and heads), and the
   * last-layer hidden states at the image positions. Saves a second, teacher-forced pass.
   */
  readImage?: boolean;
  /** With readImage: false reads only the hidden states (gradient saliency needs no attention). */
  readAttention?: boolean;
  /**
   * With readImage: the prompt ends with this many latent thought tokens; read where each one
   * looks two ways: as its trajectory head scores the image (the distribution the trajectory
   * loss trains), and by its own attention to the image (layers and heads averaged, as every
   * other gaze is read). Without readImage: the latent count the swap probe needs.
   */
  latents?: number;
  /**
   * The answer probes: the K latent positions (their keys and values) come from a second pass
   * over the prompt, over other patches [B, N, P] (swap) and/or with another attention bias
   * (steer), while everything before them and everything generated after them is as usual.
   * The first generated token, which LaViT writes from the last latent's position, is the
   * usual pass's: a probe changes what the text can read from the thoughts, not its first word.
   * Needs `latents` and the cache.
   */
  latentPass?: { patches?: tf.Tensor3D; bias?: (queryLength: number, keyLength: number, queryStart: number) => tf.Tensor | undefined };
}

export interface Generation {
  /** Per row, the generated ids, up to and including <eos> when it was produced. */
  tokens: number[][];
  /** With readImage: per row, per generated token, its attention over the n image tokens. */
  imageAttention?: Float32Array[][];
  /** With readImage: per row, [n * d] last-layer hidden states at the image positions. */
  imageHidden?: Float32Array[];
  /** With readImage and latents: per row, per latent, its trajectory head's distribution over the n image tokens. */
  latentMaps?: Float32Array[][];
  /** With readImage, readAttention and latents: per row, per latent, its attention to the n image tokens (mean over layers and heads, not normalised). */
  latentAttention?: Float32Array[][];
}

/** Keeps a cache layer's tensors alive past the tidy scope that made them. */
function keepLayer(l: { k: tf.Tensor; v: tf.Tensor }): void {
  tf.keep(l.k);
  tf.keep(l.v);
}

/** [b, n]: the last query row's attention to the image tokens, averaged over layers and heads. */
function lastRowImageAttention(probs: readonly tf.Tensor4D[], n: number): tf.Tensor2D {
  const [b, , t] = probs[0].shape;
  return tf.reshape(imageRowsAttention(probs, t - 1, 1, n), [b, n]);
}

function argmaxRows(logits: tf.Tensor2D): number[] {
  const ids = tf.argMax(logits, -1);
  const out = Array.from(ids.dataSync() as Int32Array);
  ids.dispose();
  return out;
}

/** Greedy decoding: the generated ids of each row (see `generate`). */
export function generateGreedy(vlm: Vlm, patches: tf.Tensor3D, prompts: readonly number[][], opts: GenerateOptions): number[][] {
  return generate(vlm, patches, prompts, opts).tokens;
}

type BiasFor = NonNullable<GenerateOptions["biasFor"]>;

/**
 * A student trained with a gate that never opens (config latent.closed_gate) reads the image
 * only through its latents, at inference as in training: the rows after the prompt (and, with
 * `prompt`, the question's rows) lose the image columns, on top of any probe's bias. The last
 * latent row, which writes the first generated token, keeps the image, as in training.
 */
export function withClosedGate(vlm: Vlm, promptLength: number, opts: GenerateOptions): GenerateOptions {
  const closed = vlm.config.latent?.closed_gate;
  if (!closed) return opts;
  const n = numPatches(vlm.config.vision);
  const questionStart = IMAGE_START + n + 1;
  const latentStart = promptLength - vlm.config.latent!.num_latents;
  const gate: BiasFor = (q, k, qStart) => {
    const bias = new Float32Array(q * k);
    for (let i = 0; i < q; i++) {
      const row = qStart + i;
      const shut = row >= promptLength || (closed.prompt && row >= questionStart && row < latentStart);
      if (shut) for (let c = IMAGE_START; c < IMAGE_START + n && c < k; c++) bias[i * k + c] = NEG_INF;
    }
    return tf.tensor4d(bias, [1, 1, q, k]);
  };
  const combine =
    (other?: BiasFor): BiasFor =>
    (q, k, qStart) => {
      const a = gate(q, k, qStart)!;
      const o = other?.(q, k, qStart);
      if (!o) return a;
      const sum = tf.add(a, o);
      tf.dispose([a, o]);
      return sum;
    };
  return { ...opts, biasFor: combine(opts.biasFor), ...(opts.latentPass ? { latentPass: { ...opts.latentPass, bias: combine(opts.latentPass.bias) } } : {}) };
}

/**
 * Greedy decoding for a batch of prompts of equal length (callers group by length, so no
 * padding and no position shifts are needed).
 */
export function generate(vlm: Vlm, patches: tf.Tensor3D, prompts: readonly number[][], given: GenerateOptions): Generation {
  const b = prompts.length;
  const t0 = prompts[0].length;
  const opts = withClosedGate(vlm, t0, given);
  if (prompts.some((p) => p.length !== t0)) throw new Error("generateGreedy: prompts must have equal length");
  checkPositions(vlm.config, t0, "the prompt (image, question and latent tokens)");
  const useCache = opts.useCache ?? true;
  const probeLatents = opts.latents ?? 0;
  if (opts.latentPass && (!useCache || probeLatents <= 0 || opts.readImage)) throw new Error("generate: latentPass needs latents, the cache, and no read-out");
  const out: number[][] = prompts.map(() => []);
  const done = new Array<boolean>(b).fill(false);
  const image = tf.tidy(() => projectVision(vlm, visionForward(vlm, patches, { release: true })));
  const latentPatches = opts.latentPass?.patches;
  const latentImage = latentPatches ? tf.tidy(() => projectVision(vlm, visionForward(vlm, latentPatches, { release: true }))) : null;
  const n = image.shape[1];
  const read = opts.readImage ?? false;
  const readAtt = read && (opts.readAttention ?? true);
  const attention: Float32Array[][] = prompts.map(() => []);
  let imageHidden: Float32Array[] | undefined;
  let latentMaps: Float32Array[][] | undefined;
  let latentAttention: Float32Array[][] | undefined;
  const K = read ? (opts.latents ?? 0) : 0;
  /** Reads the attention row that produced `next` (before `next` is pushed). */
  const takeAttention = (a: tf.Tensor2D | undefined) => {
    if (!a) return null;
    const v = a.dataSync() as Float32Array;
    a.dispose();
    return v;
  };
  let nextAttention: Float32Array | null = null;
  let cache: KvCache | null = null;
  try {
    let next: number[];
    {
      const r = tf.tidy(() => {
        const ids = tf.tensor2d(prompts.flat(), [b, t0], "int32");
        const bias = opts.biasFor?.(t0, t0, 0);
        const dec = decoderForward(vlm, embedWithImage(vlm, ids, image), { bias, returnProbs: readAtt, cache: useCache, release: true });
        let layers = dec.cache?.layers ?? [];
        if (opts.latentPass) {
          const otherBias = opts.latentPass.bias ? opts.latentPass.bias(t0, t0, 0) : bias;
          const other = decoderForward(vlm, embedWithImage(vlm, ids, latentImage ?? image), { bias: otherBias, cache: true, release: true });
          const cut = t0 - probeLatents;
          const mix = (x: tf.Tensor4D, y: tf.Tensor4D) =>
            tf.concat([tf.slice(x, [0, 0, 0, 0], [-1, -1, cut, -1]), tf.slice(y, [0, 0, cut, 0], [-1, -1, probeLatents, -1])], 2) as tf.Tensor4D;
          layers = layers.map((l, i) => ({ k: mix(l.k, other.cache!.layers[i].k), v: mix(l.v, other.cache!.layers[i].v) }));
        }
        const last = tf.reshape(tf.slice(dec.hidden, [0, t0 - 1, 0], [b, 1, -1]), [b, -1]);
        const logits = lmLogits(vlm, last) as tf.Tensor2D;
        for (const l of layers) keepLayer(l);
        return {
          logits,
          layers,
          att: readAtt ? lastRowImageAttention(dec.probs!, n) : undefined,
          hidden: read ? tf.slice(dec.hidden, [0, IMAGE_START, 0], [b, n, -1]) : undefined,
          latent:
            K > 0
              ? tf.exp(
                  trajHeadLogits(
                    vlm,
                    tf.slice(dec.hidden, [0, t0 - K, 0], [b, K, -1]) as tf.Tensor3D,
                    tf.slice(dec.hidden, [0, IMAGE_START, 0], [b, n, -1]) as tf.Tensor3D,
                  ),
                )
              : undefined,
          latentAtt: K > 0 && readAtt ? imageRowsAttention(dec.probs!, t0 - K, K, n) : undefined,
        };
      });
      next = argmaxRows(r.logits);
      r.logits.dispose();
      nextAttention = takeAttention(r.att);
      if (r.hidden) {
        const d = r.hidden.shape[2];
        const all = r.hidden.dataSync() as Float32Array;
        imageHidden = prompts.map((_, i) => all.slice(i * n * d, (i + 1) * n * d));
        r.hidden.dispose();
      }
      if (r.latent) {
        const all = r.latent.dataSync() as Float32Array;
        latentMaps = prompts.map((_, i) => Array.from({ length: K }, (_, k) => all.slice((i * K + k) * n, (i * K + k + 1) * n)));
        r.latent.dispose();
      }
      if (r.latentAtt) {
        const all = r.latentAtt.dataSync() as Float32Array;
        latentAttention = prompts.map((_, i) => Array.from({ length: K }, (_, k) => all.slice((i * K + k) * n, (i * K + k + 1) * n)));
        r.latentAtt.dispose();
      }
      if (useCache) cache = { layers: r.layers, length: t0 };
    }
    const table = vlm.store.get("model.embed_tokens.weight") as tf.Tensor2D;
    for (let step = 0; step < opts.maxNewTokens; step++) {
      for (let i = 0; i < b; i++) {
        if (done[i]) continue;
        out[i].push(next[i]);
        if (nextAttention) attention[i].push(nextAttention.slice(i * n, (i + 1) * n));
        if (next[i] === opts.eos) done[i] = true;
      }
      if (done.every(Boolean) || step === opts.maxNewTokens - 1) break;
      if (useCache && cache) {
        const past: KvCache = cache;
        const r = tf.tidy(() => {
          const x = tf.reshape(tf.gather(table, tf.tensor1d(next, "int32")), [b, 1, -1]) as tf.Tensor3D;
          const dec = decoderForward(vlm, x, { past, bias: opts.biasFor?.(1, past.length + 1, past.length), returnProbs: readAtt, release: true });
          const layers = dec.cache!.layers;
          for (const l of layers) keepLayer(l);
          return {
            logits: lmLogits(vlm, tf.reshape(dec.hidden, [b, -1])) as tf.Tensor2D,
            layers,
            att: readAtt ? lastRowImageAttention(dec.probs!, n) : undefined,
          };
        });
        for (const l of past.layers) tf.dispose([l.k, l.v]);
        cache = { layers: r.layers, length: past.length + 1 };
        next = argmaxRows(r.logits);
        r.logits.dispose();
        nextAttention = takeAttention(r.att);
      } else {
        const len = t0 + step + 1;
        const r = tf.tidy(() => {
          const ids = tf.tensor2d(prompts.map((p, i) => [...p, ...out[i], ...new Array(step + 1 - out[i].length).fill(opts.eos)]).flat(), [b, len], "int32");
          const dec = decoderForward(vlm, embedWithImage(vlm, ids, image), { bias: opts.biasFor?.(len, len, 0), returnProbs: readAtt, release: true });
          return {
            logits: lmLogits(vlm, tf.reshape(tf.slice(dec.hidden, [0, len - 1, 0], [b, 1, -1]), [b, -1])) as tf.Tensor2D,
            att: readAtt ? lastRowImageAttention(dec.probs!, n) : undefined,
          };
        });
        next = argmaxRows(r.logits);
        r.logits.dispose();
        nextAttention = takeAttention(r.att);
      }
    }
  } finally {
    image.dispose();
    latentImage?.dispose();
    if (cache) for (const l of cache.layers) tf.dispose([l.k, l.v]);
  }
  return read
    ? { tokens: out, imageAttention: attention, imageHidden, ...(latentMaps ? { latentMaps } : {}), ...(latentAttention ? { latentAttention } : {}) }
    : { tokens: out };
}
