/**
 * Which decoder layers a read-out averages: `all`, the last N (`last:N`), or `official`, the
 * public extractor's choice (the last 8, all of them when the model has fewer).
 */
export type LayerSpec = "all" | "official" | `last:${number}`;
