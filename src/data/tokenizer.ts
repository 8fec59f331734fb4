import { z } from "zod";
import { UserError } from "../errors.js";
import { readJson } from "../util/json.js";
import { quoteInput } from "../util/errors-text.js";
import { grammarWords } from "./questions.js";

export const MAX_LATENTS = 8;

/** Special tokens of the sequence layout: <bos> <vision_start> [image] <vision_end> question <lvr1..K> answer <eos>. */
export const SPECIAL_TOKENS = [
  "<pad>",
  "<bos>",
  "<eos>",
  "<vision_start>",
  "<vision_end>",
  "<image>",
  ...Array.from({ length: MAX_LATENTS }, (_, i) => `<lvr${i + 1}>`),
] as const;

/** The word an open vocabulary (an imported dataset's) reads an unknown word as. */
export const UNK = "<unk>";

const tokenizerSchema = z
  .object({
    type: z.literal("word-level"),
    specials: z.array(z.string()),
    // encode() splits text at whitespace, so a token with a space (or none at all) could never be read.
    vocab: z.array(z.string().regex(/^\S+$/, "a token must be one non-empty word (no spaces)")).min(1),
  })
  .strict();

/**
 * The words of a text: lowercased; a number (3, 12, 3.5) one word; a special token
 * (<eos>) one word; every other punctuation mark a word of its own ("table?" is "table" "?").
 * The benchmark's text is already in this form, so its tokens are unchanged.
 */
export function textWords(text: string): string[] {
  return text.toLowerCase().match(/<[a-z0-9_]+>|\d+(?:\.\d+)?|[\p{L}\p{N}]+(?:'[\p{L}]+)*|[^\s\p{L}\p{N}]/gu) ?? [];
}

/**
 * Word-level tokenizer. A closed vocabulary (the benchmark's grammar, and the models trained
 * on it) makes a word outside it an error naming the word: a silent <unk> would let a model
 * "answer" questions it cannot read. An open one (it has <unk>: an imported dataset's) reads
 * such a word as <unk>, and the stages count them (`unknownWords`).
 */
export class Tokenizer {
  private readonly ids: Map<string, number>;

  constructor(readonly vocab: readonly string[]) {
    this.ids = new Map(vocab.map((w, i) => [w, i]));
    if (this.ids.size !== vocab.length) throw new Error("tokenizer vocabulary has duplicates");
    for (const s of SPECIAL_TOKENS) if (!this.ids.has(s)) throw new Error(`tokenizer is missing the special token ${s}`);
  }

  static forGrammar(): Tokenizer {
    return new Tokenizer([...SPECIAL_TOKENS, ...grammarWords()]);
  }

  /** An open vocabulary of the given texts' words (sorted, so the same texts give the same ids), with the words every target uses. */
  static fromTexts(texts: Iterable<string>): Tokenizer {
    const words = new Set<string>(["look", "answer", ";"]);
    for (const t of texts) for (const w of textWords(t)) words.add(w);
    for (const s of [...SPECIAL_TOKENS, UNK]) words.delete(s);
    return new Tokenizer([...SPECIAL_TOKENS, UNK, ...[...words].sort()]);
  }

  /** Open: unknown words are read as <unk> instead of refused. */
  get open(): boolean {
    return this.ids.has(UNK);
  }

  /** The words of a text this vocabulary does not have. */
  unknownWords(text: string): string[] {
    return textWords(text).filter((w) => !this.ids.has(w));
  }

  get size(): number {
    return this.vocab.length;
  }

  /** How many latent words <lvr1>..<lvrK> the vocabulary has in a row: the largest K a student may use. */
  get latentCount(): number {
    let k = 0;
    while (this.ids.has(`<lvr${k + 1}>`)) k += 1;
    return k;
  }

  id(token: string): number {
    const i = this.ids.get(token);
    if (i === undefined) throw new UserError(`unknown word ${quoteInput(token)} (not in the tokenizer vocabulary)`);
    return i;
  }

  has(token: string): boolean {
    return this.ids.has(token);
  }

  encode(text: string, context = "text"): number[] {
    const unk = this.ids.get(UNK);
    return textWords(text).map((w) => {
      const i = this.ids.get(w) ?? unk;
      if (i === undefined) throw new UserError(`${context}: unknown word ${quoteInput(w)} in ${quoteInput(text)}`);
      return i;
    });
  }

  decode(ids: readonly number[]): string {
    return ids.map((i) => this.vocab[i] ?? `<${i}?>`).join(" ");
  }

  toJSON(): z.infer<typeof tokenizerSchema> {
    return { type: "word-level", specials: [...SPECIAL_TOKENS], vocab: [...this.vocab] };
  }

  static read(file: string): Tokenizer {
    const { vocab } = readJson(file, tokenizerSchema, { what: "tokenizer" });
    try {
      return new Tokenizer(vocab);
    } catch (e) {
      throw new UserError(`${file}: ${(e as Error).message}`);
    }
  }
}
