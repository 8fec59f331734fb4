/** Linear warm-up to the peak, then cosine decay to peak * minRatio at the last step. */
export function warmupCosine(step: number, total: number, peak: number, warmup: number, minRatio = 0.1): number {
  if (warmup > 0 && step < warmup) return (peak * (step + 1)) / warmup;
  const span = Math.max(1, total - warmup - 1);
  const progress = Math.min(1, (step - warmup) / span);
  return peak * (minRatio + (1 - minRatio) * 0.5 * (1 + Math.cos(Math.PI * progress)));
}
