/** The groups of a model's parameter names that training and loading treat apart. */

/** The vision tower's parameters. */
export const isVisionParam = (name: string): boolean => name.startsWith("vision.");

/** The per-patch heads on the vision tower (`aux.*`): pretraining-time only, never loaded into students. */
export const isAuxParam = (name: string): boolean => name.startsWith("aux.");

/** The vision tower with its per-patch heads: what `--vision-from` copies and `--vision-only` trains. */
export const isTowerParam = (name: string): boolean => isVisionParam(name) || isAuxParam(name);
