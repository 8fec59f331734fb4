#!/usr/bin/env node
// The step benchmark's model trained on batches of varied sequence lengths, as padded batches
// have: the case where a buffer pool keyed by size keeps a set of buffers per shape. Prints the
// losses, a sha256 over the final weights and losses (to compare the bits of two builds), and
// the peak resident memory. Usage: node bench/shapes.mjs [small|base] [steps] [dist dir]
import { createHash } from "node:crypto";
import { fileURLToPath } from "node:url";
import path from "node:path";

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const [name = "small", stepsArg = "12", dist = path.join(root, "dist")] = process.argv.slice(2);
const { tf, initEngine } = await import(path.resolve(dist, "engine/index.js"));
const { BENCH_CONFIGS, buildBenchLm, trainStep } = await import(path.resolve(dist, "bench/step.js"));
const { AdamW } = await import(path.resolve(dist, "train/optim.js"));
const { Rng } = await import(path.resolve(dist, "util/rng.js"));

await initEngine();
const config = BENCH_CONFIGS[name];
const lm = buildBenchLm(config, 0);
const rng = new Rng(1);
const opt = new AdamW({ lr: 1e-3, weightDecay: 0.1 });
const losses = [];
for (let i = 0; i < Number(stepsArg); i++) {
  const seq = i % 3 === 0 ? config.seq : config.seq - 8 * (i % 5);
  const ids = new Int32Array(config.batch * (seq + 1));
  for (let j = 0; j < ids.length; j++) ids[j] = rng.int(0, config.vocab - 1);
  const all = tf.tensor2d(ids, [config.batch, seq + 1], "int32");
  const inputs = tf.slice(all, [0, 0], [config.batch, seq]);
  const targets = tf.reshape(tf.slice(all, [0, 1], [config.batch, seq]), [-1]);
  losses.push(trainStep(lm, opt, inputs, targets));
  tf.dispose([all, inputs, targets]);
}
const h = createHash("sha256");
for (const [key, v] of [...lm.store.vars.entries()].sort()) {
  h.update(key);
  h.update(Buffer.from(v.dataSync().buffer));
}
h.update(Buffer.from(new Float64Array(losses).buffer));
const peakRssMb = Math.round(process.resourceUsage().maxRSS / 1024);
console.log(JSON.stringify({ config: name, losses, sha256: h.digest("hex"), peak_rss_mb: peakRssMb }));
