/** The alignment targets' option values (a module without tensors: the stages' public option types name them). */

/** pooled: per latent, V_top pooled with its step's map; mean: the mean over image tokens for every latent; mean-last: the mean, from the last latent only (the public code). */
export type VtopTarget = "pooled" | "mean" | "mean-last";
export type TrajSource = "head" | "attention";
/** steps: latent k reconstructs step k; first-last: step 1 from the last latent only (the public code). */
export type TrajTarget = "steps" | "first-last";
