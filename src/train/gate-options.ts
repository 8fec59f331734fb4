/** The sensory gate's option values (a module without tensors: the stages' public option types name them). */

export const GATE_SCHEDULES = ["none", "two-stage", "two-stage-visual-only", "linear", "cosine", "closed"] as const;
export type GateSchedule = (typeof GATE_SCHEDULES)[number];
export const GATE_MODES = ["hard", "soft"] as const;
export type GateMode = (typeof GATE_MODES)[number];
