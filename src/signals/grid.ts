/**
 * Patch-grid geometry for signals whose image-token count N_img is not a square: the official
 * trainer picks, among the factorisations h x w of N_img (h up to floor(sqrt N) + 1, both
 * orientations), the one whose h/w is closest to the image's height/width (first best wins),
 * then resizes maps and V_top rows bilinearly (align_corners = false) to the student's grid.
 */
export function bestGrid(n: number, width: number, height: number): { h: number; w: number } {
  const target = height / width;
  let best = { h: 1, w: n };
  let bestDiff = Infinity;
  for (let h = 1; h <= Math.floor(Math.sqrt(n)) + 1; h++) {
    if (n % h) continue;
    const w = n / h;
    if (Math.abs(h / w - target) < bestDiff) {
      bestDiff = Math.abs(h / w - target);
      best = { h, w };
    }
    if (Math.abs(w / h - target) < bestDiff) {
      bestDiff = Math.abs(w / h - target);
      best = { h: w, w: h };
    }
  }
  return best;
}

/** Source coordinate and weights along one axis (torch's bilinear, align_corners = false). */
function axis(from: number, to: number): { i0: Int32Array; i1: Int32Array; w: Float32Array } {
  const i0 = new Int32Array(to);
  const i1 = new Int32Array(to);
  const w = new Float32Array(to);
  const scale = from / to;
  for (let o = 0; o < to; o++) {
    const s = Math.max((o + 0.5) * scale - 0.5, 0);
    const a = Math.min(Math.floor(s), from - 1);
    i0[o] = a;
    i1[o] = Math.min(a + 1, from - 1);
    w[o] = Math.min(s - a, 1);
  }
  return { i0, i1, w };
}

/**
 * Bilinear resize of `channels` interleaved maps laid out [h, w, channels] to [H, W, channels]
 * (channels = 1 for a step map, d for V_top rows).
 */
export function resizeGrid(src: ArrayLike<number>, h: number, w: number, H: number, W: number, channels = 1): Float32Array {
  const out = new Float32Array(H * W * channels);
  if (h === H && w === W) {
    for (let i = 0; i < out.length; i++) out[i] = src[i];
    return out;
  }
  const ay = axis(h, H);
  const ax = axis(w, W);
  for (let y = 0; y < H; y++) {
    const y0 = ay.i0[y] * w;
    const y1 = ay.i1[y] * w;
    const wy = ay.w[y];
    for (let x = 0; x < W; x++) {
      const x0 = ax.i0[x];
      const x1 = ax.i1[x];
      const wx = ax.w[x];
      const a = (y0 + x0) * channels;
      const b = (y0 + x1) * channels;
      const c = (y1 + x0) * channels;
      const d = (y1 + x1) * channels;
      const o = (y * W + x) * channels;
      for (let k = 0; k < channels; k++) out[o + k] = (1 - wy) * ((1 - wx) * src[a + k] + wx * src[b + k]) + wy * ((1 - wx) * src[c + k] + wx * src[d + k]);
    }
  }
  return out;
}
