/**
 * The closed world of the benchmark: the attribute words every scene, question, rationale
 * and answer is built from. The tokenizer's vocabulary is derived from these lists, so a word
 * added here is automatically a legal token.
 */

export const SHAPES = ["circle", "square", "triangle", "diamond", "cross"] as const;
export type Shape = (typeof SHAPES)[number];

export const SHAPE_PLURALS: Record<Shape, string> = {
  circle: "circles",
  square: "squares",
  triangle: "triangles",
  diamond: "diamonds",
  cross: "crosses",
};

export const COLOURS = ["red", "green", "blue", "yellow", "purple", "cyan"] as const;
export type Colour = (typeof COLOURS)[number];

/**
 * Far apart in RGB and in hue so a small vision encoder can tell them apart after noise;
 * none is close to the grey background.
 */
export const COLOUR_RGB: Record<Colour, readonly [number, number, number]> = {
  red: [220, 45, 45],
  green: [40, 175, 60],
  blue: [45, 85, 235],
  yellow: [240, 215, 40],
  purple: [165, 60, 205],
  cyan: [55, 215, 225],
};

export const SIZES = ["small", "large"] as const;
export type SizeClass = (typeof SIZES)[number];

export const BACKGROUND_RGB: readonly [number, number, number] = [112, 112, 112];

export const COUNT_WORDS = ["1", "2", "3", "4"] as const;
export const YES_NO = ["yes", "no"] as const;

/**
 * Where an object is, as the rationale says it: the column and the row (1 = left / top) of its
 * centre on a fixed 8 x 8 grid over the image. A spatial question's margin is one grid cell
 * (`spatialMargin`), so comparing two objects' cells always gives the true answer.
 */
export const CELL_WORDS = ["1", "2", "3", "4", "5", "6", "7", "8"] as const;
