/**
 * The per-patch heads on a vision tower (`aux.*`): trained by teachers and student bases
 * (`--aux-patch`), read by `lavit eval --vision-heads`, copied by `--vision-from`.
 */
import { PATCH_COLOUR_CLASSES, PATCH_SHAPE_CLASSES, type PatchLabels } from "../data/patch-labels.js";
import { initLinear } from "./nn.js";
import type { Vlm } from "./vlm.js";

/**
 * Occluded patches are a few percent of all patches: unweighted, the hidden-object heads
 * learned to say "nothing hidden" almost everywhere, and with them the vision tower never saw which object is in front.
 */
export const HIDDEN_LABELLED_WEIGHT = 10;

/** Auxiliary per-patch heads: parameter name, classes (a function of the patch grid), label, loss weight of labelled (non-zero) patches. */
export const AUX_HEADS: readonly [string, (grid: number) => number, keyof PatchLabels, number][] = [
  ["aux.patch_shape", () => PATCH_SHAPE_CLASSES, "shape", 1],
  ["aux.patch_colour", () => PATCH_COLOUR_CLASSES, "colour", 1],
  ["aux.hidden_shape", () => PATCH_SHAPE_CLASSES, "hiddenShape", HIDDEN_LABELLED_WEIGHT],
  ["aux.hidden_colour", () => PATCH_COLOUR_CLASSES, "hiddenColour", HIDDEN_LABELLED_WEIGHT],
  ["aux.object_row", (grid) => 1 + grid, "objectRow", 1],
  ["aux.object_col", (grid) => 1 + grid, "objectCol", 1],
];

/** Adds the per-patch heads a model lacks (each separately: a teacher trained before a head existed gains it on --init-from). */
export function addAuxHeads(vlm: Vlm): void {
  const hv = vlm.config.vision.hidden_size;
  const grid = vlm.config.vision.image_size / vlm.config.vision.patch_size;
  for (const [name, classes] of AUX_HEADS) if (!vlm.store.has(`${name}.weight`)) initLinear(vlm.store, name, hv, classes(grid), { bias: true });
}
