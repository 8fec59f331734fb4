import { initEngine as start } from "./index.js";
import type { Engine } from "./info.js";

/**
 * Sets up the tensor engine (native kernels when the addon loads). Every stage calls it itself;
 * call it first only to read which tier runs. Its own module, so that the package's types name
 * no tensor library.
 */
export function initEngine(): Promise<Engine> {
  return start();
}
