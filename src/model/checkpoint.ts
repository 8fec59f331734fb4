import { copyFileSync, existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { tf } from "../engine/index.js";
import { UserError } from "../cli/errors.js";
import { readSafetensors, SafetensorsError, toFloat32, writeSafetensors, type SafeTensor } from "../io/safetensors.js";
import { writeFileAtomic } from "../util/atomic.js";
import { Tokenizer } from "../data/tokenizer.js";
import { readVlmConfig, type VlmConfig } from "./config.js";
import type { ParamStore } from "./params.js";

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

/** Loads weights into an already built store; every tensor must exist with the right shape. */
export function loadWeightsInto(store: ParamStore, file: string, optional: (name: string) => boolean = () => false): { step: number } {
  let loaded;
  try {
    loaded = readSafetensors(file);
  } catch (e) {
    if (e instanceof SafetensorsError) throw new UserError(e.message);
    throw e;
  }
  for (const [name, v] of store.vars) {
    const t = loaded.tensors.get(name);
    if (!t) {
      if (optional(name)) continue;
      throw new UserError(`${file}: missing tensor ${name}`);
    }
    if (t.shape.join(",") !== v.shape.join(",")) throw new UserError(`${file}: tensor ${name} has shape [${t.shape}], the config needs [${v.shape}]`);
    if (t.dtype !== "F32" && t.dtype !== "F16" && t.dtype !== "BF16") throw new UserError(`${file}: tensor ${name} has dtype ${t.dtype}, expected a float type`);
    const values = tf.tensor(toFloat32(t), v.shape, "float32");
    v.assign(values);
    values.dispose();
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
  if (tokenizer.size !== config.decoder.vocab_size) throw new UserError(`${join(dir, "tokenizer.json")}: ${tokenizer.size} tokens, but config.json has vocab_size ${config.decoder.vocab_size}`);
  return { config, tokenizer, weights };
}

/**
 * Starts a freshly built store from another model folder's weights (`--init-from`). `mismatch`
 * says why the folder is not the same model (null when it is); tensors the folder lacks may
 * only be `optional` ones, which keep their fresh values.
 */
export function initFromFolder(store: ParamStore, dir: string, mismatch: (config: VlmConfig, tokenizer: Tokenizer) => string | null, optional: (name: string) => boolean): void {
  const init = readModelFolder(dir);
  const why = mismatch(init.config, init.tokenizer);
  if (why) throw new UserError(`--init-from ${dir}: ${why}`);
  loadWeightsInto(store, init.weights, optional);
}
