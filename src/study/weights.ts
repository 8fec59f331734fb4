import { createHash } from "node:crypto";
import { readRegularFile } from "../util/read-guard.js";
import { join } from "node:path";

/** A model folder's weights, as a sha256: a run begun with one model must not be resumed with another. */
export function weightsDigest(modelDir: string): string {
  return createHash("sha256")
    .update(readRegularFile(join(modelDir, "model.safetensors")))
    .digest("hex");
}
