import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";

/** A model folder's weights, as a sha256: a run begun with one model must not be resumed with another. */
export function weightsDigest(modelDir: string): string {
  return createHash("sha256")
    .update(readFileSync(join(modelDir, "model.safetensors")))
    .digest("hex");
}
