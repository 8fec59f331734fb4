import type { LoadedSplit } from "../data/dataset.js";
import type { Sample } from "../data/manifest.js";
import type { Tokenizer } from "../data/tokenizer.js";
import { numPatches } from "../model/config.js";
import { generate } from "../model/generate.js";
import { parseAnswer, promptIds } from "../model/sequence.js";
import { patchBatch, type Vlm } from "../model/vlm.js";
import { fnv1a } from "../util/hash.js";
import { progress } from "../util/progress.js";
import { Rng } from "../util/rng.js";
import { chunksByLength, probeBias, share } from "./probes.js";
import type { SwapFractions, SwapProbe } from "./probe-results.js";

/** An ordered pair of samples: the latents think over A's image, the text sees B's. */
export interface SwapPair {
  a: number;
  b: number;
}

export type { SwapFractions, SwapProbe } from "./probe-results.js";

/**
 * Ordered pairs (A, B) of samples that ask the same question and have different answers. A
 * test-pairs minimal pair gives both orders; on other splits the samples of one question are
 * shuffled (seeded by the question) and each is paired with the next one whose answer differs.
 * Every sample is A at most once; the pairs come in sample order.
 */
export function swapPairs(samples: readonly Pick<Sample, "question" | "answer" | "pair">[], seed: number): SwapPair[] {
  const groups = new Map<string, number[]>();
  samples.forEach((s, i) => {
    // A minimal pair's two samples ask the same question; the question is the group elsewhere.
    const key = s.pair !== undefined ? `pair\u0000${s.pair}\u0000${s.question}` : `question\u0000${s.question}`;
    const group = groups.get(key);
    if (group) group.push(i);
    else groups.set(key, [i]);
  });
  const pairs: SwapPair[] = [];
  for (const [key, members] of groups) {
    const order = new Rng(fnv1a(`swap/${seed}/${key}`)).shuffle([...members]);
    order.forEach((a, p) => {
      for (let j = 1; j < order.length; j++) {
        const b = order[(p + j) % order.length];
        if (samples[b].answer !== samples[a].answer) {
          pairs.push({ a, b });
          return;
        }
      }
    });
  }
  return pairs.sort((x, y) => x.a - y.a);
}

/** Which image each swapped answer follows. */
export function swapFractions(pairs: readonly SwapPair[], samples: readonly Pick<Sample, "answer">[], predicted: readonly (string | null)[]): SwapFractions {
  let a = 0;
  let b = 0;
  pairs.forEach((p, i) => {
    if (predicted[i] === samples[p.a].answer) a++;
    else if (predicted[i] === samples[p.b].answer) b++;
  });
  return { follow_a: share(a, pairs.length), follow_b: share(b, pairs.length), neither: share(pairs.length - a - b, pairs.length) };
}

/** The answers of the swap probe, one per pair: the latents computed over A's image, the question and the text over B's. */
export function swappedAnswers(
  vlm: Vlm,
  tok: Tokenizer,
  data: LoadedSplit,
  pairs: readonly SwapPair[],
  latents: number,
  o: { maskLatents?: boolean; batchSize?: number; maxNewTokens?: number; quiet?: boolean } = {},
): (string | null)[] {
  const n = numPatches(vlm.config.vision);
  const prompts = pairs.map((p) => promptIds(tok, n, data.samples[p.b].question, latents));
  const out: (string | null)[] = new Array(pairs.length);
  const bar = progress(`swap probe${o.maskLatents ? " (latents masked)" : ""} ${data.split}`, pairs.length, { quiet: o.quiet });
  for (const chunk of chunksByLength(
    prompts.map((p) => p.length),
    o.batchSize ?? 64,
  )) {
    const images = (side: "a" | "b") =>
      patchBatch(
        chunk.map((i) => data.images[pairs[i][side]]),
        data.info.size,
        data.info.patch,
      );
    const text = images("b");
    const thought = images("a");
    try {
      const g = generate(
        vlm,
        text,
        chunk.map((i) => prompts[i]),
        {
          maxNewTokens: o.maxNewTokens ?? 32,
          eos: tok.id("<eos>"),
          latents,
          latentPass: { patches: thought },
          biasFor: probeBias(prompts[chunk[0]].length, latents, n, { maskLatents: o.maskLatents }),
        },
      );
      chunk.forEach((i, k) => (out[i] = parseAnswer(tok.decode(g.tokens[k]))));
    } finally {
      text.dispose();
      thought.dispose();
    }
    bar.tick(chunk.length);
  }
  bar.stop();
  return out;
}

/** The swap probe on a split: which image the answer follows, with and without the latents visible to the text. */
export function swapProbe(
  vlm: Vlm,
  tok: Tokenizer,
  data: LoadedSplit,
  latents: number,
  o: { seed: number; batchSize?: number; maxNewTokens?: number; quiet?: boolean },
): SwapProbe {
  const pairs = swapPairs(data.samples, o.seed);
  const run = (maskLatents: boolean) => swapFractions(pairs, data.samples, swappedAnswers(vlm, tok, data, pairs, latents, { ...o, maskLatents }));
  return { pairs: pairs.length, ...run(false), constant: run(true) };
}
