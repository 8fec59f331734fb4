import type { Sample } from "../data/manifest.js";
import { readModelFolder } from "../model/checkpoint.js";
import { UNK } from "../data/tokenizer.js";

/**
 * How many words of the samples' questions a model reads as <unk> (undefined for a closed
 * vocabulary: loading refused such data already). The run reports it, since a question the
 * model half reads is answered from what is left.
 */
export function countUnknownWords(modelDir: string, samples: readonly Pick<Sample, "question">[]): number | undefined {
  const tok = readModelFolder(modelDir).tokenizer;
  if (!tok.has(UNK)) return undefined;
  return samples.reduce((n, s) => n + tok.unknownWords(s.question).length, 0);
}
