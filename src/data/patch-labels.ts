import { sceneObjects, type Sample } from "./manifest.js";
import { compose } from "./render.js";
import { MaskCache } from "./shapes.js";
import { COLOURS, SHAPES } from "./vocab.js";

/** A patch is labelled with an object when that object covers at least this much of it. */
const MIN_COVER = 0.25;
/** ... and with the object it hides when the hidden part covers at least this much. */
const MIN_HIDDEN = 1 / 16;

export const PATCH_SHAPE_CLASSES = 1 + SHAPES.length;
export const PATCH_COLOUR_CLASSES = 1 + COLOURS.length;

export interface PatchLabels {
  shape: Int32Array;
  colour: Int32Array;
  /** Shape and colour of the object the visible one occludes in this patch (0 = none). */
  hiddenShape: Int32Array;
  hiddenColour: Int32Array;
  /** Grid row and column (1-based; 0 = background) of the centre of the object covering the patch. */
  objectRow: Int32Array;
  objectCol: Int32Array;
}

/**
 * Per patch: the shape, colour and centre cell (0 = background) of the object covering most
 * of it, and the shape and colour of the object it hides there, read from the scene
 * description in the manifest. The centre cell, the same on every patch of an object, puts
 * where the object is into its features, which spatial questions compare. Dense
 * supervision for the teacher's vision tower only (a teacher stands for a model that already
 * sees, occlusion included); students never get it.
 */
export function patchLabels(sample: Sample, size: number, patch: number, masks: MaskCache): PatchLabels {
  const objects = sceneObjects(sample, "the per-patch heads (--aux-patch)");
  const grid = size / patch;
  const comp = compose(objects, { size, patch, masks });
  const counts = new Map<number, number>();
  const shape = new Int32Array(grid * grid);
  const colour = new Int32Array(grid * grid);
  const hiddenShape = new Int32Array(grid * grid);
  const hiddenColour = new Int32Array(grid * grid);
  const objectRow = new Int32Array(grid * grid);
  const objectCol = new Int32Array(grid * grid);
  const hiddenCounts = new Map<number, number>();
  for (let pr = 0; pr < grid; pr++)
    for (let pc = 0; pc < grid; pc++) {
      counts.clear();
      for (let y = pr * patch; y < (pr + 1) * patch; y++)
        for (let x = pc * patch; x < (pc + 1) * patch; x++) {
          const o = comp.owner[y * size + x];
          if (o >= 0) counts.set(o, (counts.get(o) ?? 0) + 1);
        }
      let best = -1;
      let bestCount = 0;
      for (const [o, c] of counts) if (c > bestCount) [best, bestCount] = [o, c];
      if (best < 0 || bestCount < MIN_COVER * patch * patch) continue;
      const o = objects[best];
      shape[pr * grid + pc] = 1 + SHAPES.indexOf(o.shape);
      colour[pr * grid + pc] = 1 + COLOURS.indexOf(o.colour);
      objectRow[pr * grid + pc] = 1 + gridCell(o.y0 + o.h / 2, patch, grid);
      objectCol[pr * grid + pc] = 1 + gridCell(o.x0 + o.w / 2, patch, grid);
      hiddenCounts.clear();
      for (let y = pr * patch; y < (pr + 1) * patch; y++)
        for (let x = pc * patch; x < (pc + 1) * patch; x++) {
          const u = comp.under[y * size + x];
          if (u >= 0 && comp.owner[y * size + x] === best) hiddenCounts.set(u, (hiddenCounts.get(u) ?? 0) + 1);
        }
      let hidden = -1;
      let hiddenCount = 0;
      for (const [u, c] of hiddenCounts) if (c > hiddenCount) [hidden, hiddenCount] = [u, c];
      if (hidden >= 0 && hiddenCount >= MIN_HIDDEN * patch * patch) {
        const h = objects[hidden];
        hiddenShape[pr * grid + pc] = 1 + SHAPES.indexOf(h.shape);
        hiddenColour[pr * grid + pc] = 1 + COLOURS.indexOf(h.colour);
      }
    }
  return { shape, colour, hiddenShape, hiddenColour, objectRow, objectCol };
}

function gridCell(pixel: number, patch: number, grid: number): number {
  return Math.min(grid - 1, Math.max(0, Math.floor(pixel / patch)));
}
