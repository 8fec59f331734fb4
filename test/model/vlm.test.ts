import { describe, expect, it } from "vitest";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { tf, initEngine } from "../../src/engine/index.js";
import { buildVlm, decoderForward, embedWithImage, IMAGE_START, patchify, projectVision, visionForward } from "../../src/model/vlm.js";
import { generate, generateGreedy } from "../../src/model/generate.js";
import { initFromFolder, initVisionFrom, loadWeightsInto, saveModel, readModelFolder } from "../../src/model/checkpoint.js";
import { addAuxHeads } from "../../src/model/aux-heads.js";
import { Tokenizer } from "../../src/data/tokenizer.js";
import { promptIds } from "../../src/model/sequence.js";
import type { VlmConfig } from "../../src/model/config.js";
import { Rng } from "../../src/util/rng.js";

export function tinyConfig(vocab: number): VlmConfig {
  return {
    model_type: "lavit-vlm",
    vision: { image_size: 16, patch_size: 4, channels: 3, hidden_size: 16, num_layers: 1, num_heads: 2, mlp_size: 32 },
    decoder: {
      vocab_size: vocab,
      hidden_size: 16,
      num_layers: 2,
      num_heads: 2,
      num_kv_heads: 1,
      ffn_size: 32,
      max_positions: 64,
      rope_base: 10000,
      rms_eps: 1e-6,
    },
  };
}

function randomImages(n: number, seed: number): Uint8Array[] {
  const rng = new Rng(seed);
  return Array.from({ length: n }, () => Uint8Array.from({ length: 16 * 16 * 3 }, () => rng.int(0, 255)));
}

/** A random tiny VLM, two equal-length prompts and two random 16 x 16 images. */
function twoPromptSetup(modelSeed: number, secondShape: string, imageSeed: number) {
  const tok = Tokenizer.forGrammar();
  const vlm = buildVlm(tinyConfig(tok.size), modelSeed);
  const prompts = [promptIds(tok, 16, "what color is the circle ?"), promptIds(tok, 16, `what color is the ${secondShape} ?`)];
  const patches = tf.tensor3d(Float32Array.from(randomImages(2, imageSeed).flatMap((im) => [...patchify(im, 16, 4)])), [2, 16, 48]);
  return { vlm, prompts, patches };
}

describe("vision-language model", () => {
  it("patchifies row-major patches with channels last", () => {
    const rgb = new Uint8Array(4 * 4 * 3);
    for (let i = 0; i < rgb.length; i++) rgb[i] = i;
    const p = patchify(rgb, 4, 2);
    // patch 1 (top right) starts at pixel (0, 2): byte 6
    expect(p[12]).toBeCloseTo(6 / 127.5 - 1, 6);
    // its second row starts at pixel (1, 2): byte (4 + 2) * 3 = 18
    expect(p[12 + 6]).toBeCloseTo(18 / 127.5 - 1, 6);
  });

  it("generates the same tokens with and without the KV cache", async () => {
    await initEngine();
    // Random weights make greedy decoding wander over the whole vocabulary: a strong test.
    const { vlm, prompts, patches } = twoPromptSetup(7, "square", 1);
    const before = tf.memory().numTensors;
    const cached = generateGreedy(vlm, patches, prompts, { maxNewTokens: 12, eos: -1 });
    const plain = generateGreedy(vlm, patches, prompts, { maxNewTokens: 12, eos: -1, useCache: false });
    expect(tf.memory().numTensors).toBe(before);
    expect(cached).toEqual(plain);
    expect(cached[0].length).toBe(12);
    patches.dispose();
    vlm.dispose();
  });

  it("frees each block's intermediates with `release`, giving the same bytes", async () => {
    await initEngine();
    const { vlm, prompts, patches } = twoPromptSetup(5, "square", 2);
    const ids = tf.tensor2d(prompts.flat(), [2, prompts[0].length], "int32");
    const run = (release: boolean) => {
      tf.engine().startScope();
      const before = tf.memory().numTensors;
      const image = projectVision(vlm, visionForward(vlm, patches, { release }));
      const out = decoderForward(vlm, embedWithImage(vlm, ids, image), { returnProbs: true, cache: true, release });
      const alive = tf.memory().numTensors - before;
      const bytes = [out.hidden, ...out.probs!, ...out.cache!.layers.flatMap((l) => [l.k, l.v])].map((t) => Buffer.from((t.dataSync() as Float32Array).buffer));
      tf.engine().endScope();
      return { alive, bytes };
    };
    const kept = run(false);
    const freed = run(true);
    expect(freed.bytes.every((b, i) => b.equals(kept.bytes[i]))).toBe(true);
    expect(freed.alive).toBeLessThan(kept.alive / 2);
    tf.dispose([ids, patches]);
    vlm.dispose();
  });

  it("reads each generated token's image attention and the image hidden states as a forced pass would", async () => {
    await initEngine();
    const { vlm, prompts, patches } = twoPromptSetup(3, "cross", 5);
    const before = tf.memory().numTensors;
    for (const useCache of [true, false]) {
      const g = generate(vlm, patches, prompts, { maxNewTokens: 6, eos: -1, readImage: true, useCache });
      const t0 = prompts[0].length;
      const t = t0 + 6;
      const { probs, hidden } = tf.tidy(() => {
        const ids = tf.tensor2d(
          prompts.flatMap((p, i) => [...p, ...g.tokens[i]]),
          [2, t],
          "int32",
        );
        const dec = decoderForward(vlm, embedWithImage(vlm, ids, projectVision(vlm, visionForward(vlm, patches))), { returnProbs: true });
        return { probs: dec.probs!.map((p) => p.arraySync() as number[][][][]), hidden: dec.hidden.arraySync() as number[][][] };
      });
      for (let i = 0; i < 2; i++) {
        expect(g.imageAttention![i].length).toBe(6);
        for (let w = 0; w < 6; w++)
          for (let j = 0; j < 16; j++) {
            // The query at t0 - 1 + w predicted token w.
            let mean = 0;
            for (const layer of probs) for (const head of layer[i]) mean += head[t0 - 1 + w][IMAGE_START + j] / (probs.length * layer[i].length);
            expect(g.imageAttention![i][w][j]).toBeCloseTo(mean, 5);
          }
        for (let j = 0; j < 16; j++) for (let c = 0; c < 16; c++) expect(g.imageHidden![i][j * 16 + c]).toBeCloseTo(hidden[i][IMAGE_START + j][c], 4);
      }
    }
    expect(tf.memory().numTensors).toBe(before);
    patches.dispose();
    vlm.dispose();
  });

  it("saves and reloads a checkpoint exactly, and names a mismatching tensor", async () => {
    await initEngine();
    const tok = Tokenizer.forGrammar();
    const a = buildVlm(tinyConfig(tok.size), 1);
    const dir = mkdtempSync(join(tmpdir(), "lavit-ckpt-"));
    saveModel(dir, a.config, a.store, tok, 5);
    const folder = readModelFolder(dir);
    const b = buildVlm(folder.config, 2);
    expect(loadWeightsInto(b.store, folder.weights).step).toBe(5);
    for (const [name, v] of a.store.vars) expect([...(b.store.get(name).dataSync() as Float32Array)]).toEqual([...(v.dataSync() as Float32Array)]);
    const wider = buildVlm({ ...tinyConfig(tok.size), decoder: { ...tinyConfig(tok.size).decoder, ffn_size: 48 } }, 0);
    expect(() => loadWeightsInto(wider.store, folder.weights)).toThrow(/tensor model\.layers\.0\.mlp\.(gate|up|down)_proj\.weight has shape/);
    a.dispose();
    b.dispose();
    wider.dispose();
  });

  it("starts from a model whose vocabulary is a prefix of the dataset's: old token rows kept, new ones fresh", async () => {
    await initEngine();
    const tok = Tokenizer.forGrammar();
    const older = new Tokenizer(tok.vocab.slice(0, tok.size - 4));
    const old = buildVlm(tinyConfig(older.size), 1);
    const dir = mkdtempSync(join(tmpdir(), "lavit-grow-"));
    saveModel(dir, old.config, old.store, older, 3);
    const fresh = buildVlm(tinyConfig(tok.size), 2);
    const before = fresh.store.get("lm_head.weight").arraySync() as number[][];
    initFromFolder(fresh.store, dir, { config: fresh.config, tokenizer: tok }, () => false);
    for (const name of ["model.embed_tokens.weight", "lm_head.weight"]) {
      const rows = fresh.store.get(name).arraySync() as number[][];
      expect(rows.slice(0, older.size)).toEqual(old.store.get(name).arraySync());
      if (name === "lm_head.weight") expect(rows.slice(older.size)).toEqual(before.slice(older.size));
    }
    const patchEmbedding = "vision.embeddings.patch_embedding.weight";
    expect([...(fresh.store.get(patchEmbedding).dataSync() as Float32Array)]).toEqual([...(old.store.get(patchEmbedding).dataSync() as Float32Array)]);
    // A vocabulary that is not a prefix, or another decoder shape, is refused by name.
    const reordered = buildVlm(tinyConfig(tok.size), 3);
    const other = mkdtempSync(join(tmpdir(), "lavit-grow-"));
    saveModel(other, reordered.config, reordered.store, new Tokenizer([...tok.vocab.slice(0, -2), tok.vocab[tok.size - 1], tok.vocab[tok.size - 2]]), 0);
    expect(() => initFromFolder(fresh.store, other, { config: fresh.config, tokenizer: tok }, () => false)).toThrow(
      /--init-from .*tokenizer\.json is neither the dataset's nor a prefix/,
    );
    const deeper = { ...tinyConfig(tok.size), decoder: { ...tinyConfig(tok.size).decoder, num_layers: 3 } };
    const deep = buildVlm(deeper, 0);
    expect(() => initFromFolder(deep.store, dir, { config: deeper, tokenizer: tok }, () => false)).toThrow(/config\.json \(vision, decoder\) differs/);
    for (const m of [old, fresh, reordered, deep]) m.dispose();
  });

  it("--vision-from copies the vision tower and its heads only, and refuses another vision config", async () => {
    await initEngine();
    const tok = Tokenizer.forGrammar();
    const base = tinyConfig(tok.size);
    const teacher = buildVlm({ ...base, decoder: { ...base.decoder, hidden_size: 32, num_layers: 3 } }, 1);
    addAuxHeads(teacher);
    const dir = mkdtempSync(join(tmpdir(), "lavit-vis-"));
    saveModel(dir, teacher.config, teacher.store, tok, 9);
    const student = buildVlm(tinyConfig(tok.size), 2);
    addAuxHeads(student);
    const decoderBefore = [...(student.store.get("lm_head.weight").dataSync() as Float32Array)];
    initVisionFrom(student.store, dir, student.config);
    const values = (m: typeof teacher, name: string) => [...(m.store.get(name).dataSync() as Float32Array)];
    for (const name of ["vision.embeddings.patch_embedding.weight", "vision.post_layernorm.weight", "aux.patch_shape.weight"])
      expect(values(student, name), name).toEqual(values(teacher, name));
    expect(values(student, "lm_head.weight")).toEqual(decoderBefore);
    const widerVision = tinyConfig(tok.size);
    const wider = { ...widerVision, vision: { ...widerVision.vision, hidden_size: 24 } };
    const other = buildVlm(wider, 3);
    expect(() => initVisionFrom(other.store, dir, wider)).toThrow(/--vision-from .*: its vision config .* differs/);
    for (const m of [teacher, student, other]) m.dispose();
  });
});
