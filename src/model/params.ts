import { tf } from "../engine/index.js";
import { Rng } from "../util/rng.js";

/**
 * Named trainable parameters with Hugging-Face-like names
 * (`model.layers.0.self_attn.q_proj.weight`), in insertion order. Linear weights are stored
 * [out, in] like PyTorch so checkpoints open unchanged in Python.
 */
export class ParamStore {
  readonly vars = new Map<string, tf.Variable>();

  constructor(private readonly rng: Rng) {}

  private add(name: string, shape: number[], values: Float32Array): tf.Variable {
    if (this.vars.has(name)) throw new Error(`parameter ${name} defined twice`);
    // tfjs variable names are process-global, so the store keeps the names and tfjs gets none.
    const init = tf.tensor(values, shape, "float32");
    const v = tf.variable(init, true);
    init.dispose();
    this.vars.set(name, v);
    return v;
  }

  normal(name: string, shape: number[], std = 0.02): tf.Variable {
    const n = shape.reduce((a, b) => a * b, 1);
    const values = new Float32Array(n);
    for (let i = 0; i < n; i++) values[i] = this.rng.normal() * std;
    return this.add(name, shape, values);
  }

  zeros(name: string, shape: number[]): tf.Variable {
    return this.add(name, shape, new Float32Array(shape.reduce((a, b) => a * b, 1)));
  }

  ones(name: string, shape: number[]): tf.Variable {
    return this.add(name, shape, new Float32Array(shape.reduce((a, b) => a * b, 1)).fill(1));
  }

  get(name: string): tf.Variable {
    const v = this.vars.get(name);
    if (!v) throw new Error(`unknown parameter ${name}`);
    return v;
  }

  has(name: string): boolean {
    return this.vars.has(name);
  }

  count(): number {
    let n = 0;
    for (const v of this.vars.values()) n += v.size;
    return n;
  }

  /**
   * Loss and gradients of f with respect to this store's variables, keyed by the store's
   * parameter names (tf.variableGrads keys them by tfjs' anonymous variable names).
   */
  /** Gradients of f for the `trainable` parameters; the others get none (and no backward pass through what only they feed). */
  grads(f: () => tf.Scalar, trainable: (name: string) => boolean = () => true): { value: tf.Scalar; grads: Map<string, tf.Tensor> } {
    const list = [...this.vars].filter(([name]) => trainable(name)).map(([, v]) => v);
    const { value, grads } = tf.variableGrads(f, list);
    const named = new Map<string, tf.Tensor>();
    for (const [name, v] of this.vars) {
      const g = grads[v.name];
      if (g) named.set(name, g);
    }
    return { value, grads: named };
  }

  dispose(): void {
    for (const v of this.vars.values()) v.dispose();
    this.vars.clear();
  }
}
