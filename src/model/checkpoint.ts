import { closeSync, copyFileSync, existsSync, fstatSync, mkdirSync, readSync } from "node:fs";
import { join } from "node:path";
import { tf } from "../engine/index.js";
import { isUserError, UserError } from "../errors.js";
import { openRegularFile } from "../util/read-guard.js";
import { readSafetensors, SafetensorsError, toFloat32, writeSafetensors, type SafeTensor } from "../io/safetensors.js";
import { writeFileAtomic } from "../util/atomic.js";
import { Tokenizer } from "../data/tokenizer.js";
import { readVlmConfig, type VlmConfig } from "./config.js";
import type { ParamStore } from "./params.js";
import { isAuxParam, isTowerParam } from "./param-groups.js";

/** The parameters of a store as F32 safetensors entries, in the store's own names. */
export function storeTensors(store: ParamStore): Map<string, SafeTensor> {
  const out = new Map<string, SafeTensor>();
  for (const [name, v] of store.vars) out.set(name, { dtype: "F32", shape: [...v.shape], data: Float32Array.from(v.dataSync() as Float32Array) });
  return out;
}

/**
 * A model folder: config.json + model.safetensors (+ tokenizer.json). Each file is written
 * atomically; model.safetensors carries the step in its metadata so a reader can tell a
 * consistent set from a torn one.
 */
export function saveModel(dir: string, config: unknown, store: ParamStore, tokenizer: Tokenizer | string, step: number): void {
  mkdirSync(dir, { recursive: true });
  writeSafetensors(join(dir, "model.safetensors"), storeTensors(store), { format: "pt", step: String(step) });
  writeFileAtomic(join(dir, "config.json"), JSON.stringify(config, null, 2) + "\n");
  if (typeof tokenizer === "string") {
    if (tokenizer !== join(dir, "tokenizer.json")) copyFileSync(tokenizer, join(dir, "tokenizer.json"));
  } else writeFileAtomic(join(dir, "tokenizer.json"), JSON.stringify(tokenizer.toJSON(), null, 2) + "\n");
}

/**
 * The `__metadata__` of a safetensors file, read from its header alone (the tensors are not
 * loaded): a checkpoint's step can be checked before any weight is read.
 */
export function readSafetensorsMetadata(file: string): Record<string, string> {
  let fd: number;
  try {
    fd = openRegularFile(file);
  } catch (e) {
    if (isUserError(e)) throw e;
    throw new UserError(`${file}: cannot read (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
  try {
    const size = fstatSync(fd).size;
    const head = Buffer.alloc(8);
    if (size < 8 || readSync(fd, head, 0, 8, 0) !== 8) throw new UserError(`${file}: not a safetensors file (shorter than its 8-byte header length)`);
    const n = Number(head.readBigUInt64LE(0));
    if (n > size - 8 || n > 100_000_000) throw new UserError(`${file}: not a safetensors file (header length ${n} exceeds the file)`);
    const json = Buffer.alloc(n);
    readSync(fd, json, 0, n, 8);
    let header: unknown;
    try {
      header = JSON.parse(json.toString("utf8"));
    } catch {
      throw new UserError(`${file}: not a safetensors file (its header is not JSON)`);
    }
    const meta = (header as { __metadata__?: unknown } | null)?.__metadata__;
    if (!meta || typeof meta !== "object") return {};
    return Object.fromEntries(Object.entries(meta).filter(([, v]) => typeof v === "string")) as Record<string, string>;
  } finally {
    closeSync(fd);
  }
}

/** The training step recorded in a model file's metadata (0 when it has none). */
export function weightsStep(file: string): number {
  const step = Number(readSafetensorsMetadata(file).step ?? "0");
  return Number.isFinite(step) ? step : 0;
}

/**
 * Loads weights into an already built store; every tensor must exist with the right shape,
 * except those `optional` names (they keep their initialisation) and those `grows` names,
 * which may have fewer rows (token-indexed tensors of a smaller vocabulary): their rows go on
 * top and the remaining rows keep their initialisation. Parameters outside `only` are not
 * touched.
 */
export function loadWeightsInto(
  store: ParamStore,
  file: string,
  optional: (name: string) => boolean = () => false,
  grows: (name: string) => boolean = () => false,
  only: (name: string) => boolean = () => true,
): { step: number } {
  let loaded;
  try {
    loaded = readSafetensors(file);
  } catch (e) {
    if (e instanceof SafetensorsError) throw new UserError(e.message);
    throw e;
  }
  for (const [name, v] of store.vars) {
    if (!only(name)) continue;
    const t = loaded.tensors.get(name);
    if (!t) {
      if (optional(name)) continue;
      throw new UserError(`${file}: missing tensor ${name}`);
    }
    const fewerRows = grows(name) && t.shape.length === v.shape.length && t.shape[0] < v.shape[0] && t.shape.slice(1).join(",") === v.shape.slice(1).join(",");
    if (t.shape.join(",") !== v.shape.join(",") && !fewerRows)
      throw new UserError(`${file}: tensor ${name} has shape [${t.shape}], the config needs [${v.shape}]`);
    if (t.dtype !== "F32" && t.dtype !== "F16" && t.dtype !== "BF16")
      throw new UserError(`${file}: tensor ${name} has dtype ${t.dtype}, expected a float type`);
    tf.tidy(() => {
      const values = tf.tensor(toFloat32(t), t.shape, "float32");
      v.assign(fewerRows ? tf.concat([values, tf.slice(v, [t.shape[0]], [v.shape[0] - t.shape[0]])], 0) : values);
    });
  }
  const step = Number(loaded.metadata.step ?? "0");
  return { step: Number.isFinite(step) ? step : 0 };
}

export function readModelFolder(dir: string): { config: VlmConfig; tokenizer: Tokenizer; weights: string } {
  if (!existsSync(join(dir, "config.json"))) throw new UserError(`${dir}: not a model folder (no config.json)`);
  const weights = join(dir, "model.safetensors");
  if (!existsSync(weights)) throw new UserError(`${dir}: no model.safetensors`);
  const config = readVlmConfig(join(dir, "config.json"));
  const tokenizer = Tokenizer.read(join(dir, "tokenizer.json"));
  if (tokenizer.size !== config.decoder.vocab_size)
    throw new UserError(`${join(dir, "tokenizer.json")}: ${tokenizer.size} tokens, but config.json has vocab_size ${config.decoder.vocab_size}`);
  return { config, tokenizer, weights };
}

/** Tensors with one row per token id. */
const TOKEN_ROWS = new Set(["model.embed_tokens.weight", "lm_head.weight"]);

/** JSON with keys sorted at every level, so two configs compare by content, not key order. */
function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === "object" && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort(([x], [y]) => (x < y ? -1 : 1))) : v,
  );
}

/**
 * `--init-from DIR`: starts the model being trained from another model folder's weights. The
 * vision tower and decoder must have the same shape; the folder's vocabulary must be the
 * dataset's or a prefix of it (a model trained before words were added to the grammar keeps
 * its token rows, the new words start fresh). `optional` names the parameters the folder
 * may lack (heads the new model adds).
 */
export function initFromFolder(store: ParamStore, dir: string, target: { config: VlmConfig; tokenizer: Tokenizer }, optional: (name: string) => boolean): void {
  const init = readModelFolder(dir);
  const before = init.tokenizer.vocab;
  const now = target.tokenizer.vocab;
  if (before.length > now.length || before.some((w, i) => now[i] !== w))
    throw new UserError(`--init-from ${dir}: its tokenizer.json is neither the dataset's nor a prefix of it`);
  const shape = (c: VlmConfig) => canonicalJson({ vision: c.vision, decoder: { ...c.decoder, vocab_size: null } });
  if (shape(init.config) !== shape(target.config))
    throw new UserError(`--init-from ${dir}: its config.json (vision, decoder) differs from the model being trained`);
  loadWeightsInto(store, init.weights, optional, (name) => TOKEN_ROWS.has(name));
}

/**
 * `--vision-from DIR`: copies another model folder's vision tower, and the per-patch heads
 * trained on it, into a model with the same vision config; the rest keeps its initialisation.
 * One pretrained encoder shared by models of different sizes, as VLM families share theirs.
 */
export function initVisionFrom(store: ParamStore, dir: string, config: VlmConfig): void {
  const source = readModelFolder(dir);
  if (canonicalJson(source.config.vision) !== canonicalJson(config.vision))
    throw new UserError(
      `--vision-from ${dir}: its vision config ${canonicalJson(source.config.vision)} differs from the model being trained (${canonicalJson(config.vision)})`,
    );
  loadWeightsInto(store, source.weights, isAuxParam, () => false, isTowerParam);
}
