import { existsSync, statSync } from "node:fs";
import { resolve } from "node:path";
import { UserError } from "../errors.js";
import { acquireLock, type Lock } from "./lock.js";
import { assertNotProtected, checkReplaceable, type OutputKind } from "./marker.js";
import { assertNameFits, assertOutputLocation, isWithin, realPath } from "./paths.js";

/**
 * The output guard: every command that writes declares its paths in an IoSpec (which option is
 * an input, which an output folder or file) and runs guardOutputs on its options before any
 * work. The CLI attaches the same spec to the command (src/cli/io.ts), and a test walks every
 * command to check that each output-looking option is declared, so no command can skip it.
 */

/** A path the command reads (a file or a folder). `label` names positional arguments (`<dir>`). */
export interface InputRole {
  role: "input";
  label?: string;
}

/**
 * An output folder of lavit's `kind`. existing "replace": a non-empty folder is refused unless
 * --force, and --force replaces only a folder with lavit's marker of the same kind; "run": the
 * stage decides what an existing folder means (a training run or a demo resumed), the guard
 * checks everything else.
 */
export interface FolderRole {
  role: "folder";
  kind: OutputKind;
  existing: "replace" | "run";
  label?: string;
}

/** An output file: an existing file is refused unless --force. */
export interface FileRole {
  role: "file";
  label?: string;
}

export type IoRole = InputRole | FolderRole | FileRole;

/** Option name (as the stage's options object, and commander, spell it) → its role. */
export type IoSpec = Readonly<Record<string, IoRole>>;

export const input = (label?: string): InputRole => ({ role: "input", ...(label ? { label } : {}) });
export const outputFolder = (kind: OutputKind, existing: FolderRole["existing"] = "replace", label?: string): FolderRole => ({
  role: "folder",
  kind,
  existing,
  ...(label ? { label } : {}),
});
export const outputFile = (label?: string): FileRole => ({ role: "file", ...(label ? { label } : {}) });

/** The flag an option is given by: `dumpAttention` → `--dump-attention`, unless labelled. */
export function flagOf(key: string, role: IoRole): string {
  return role.label ?? `--${key.replace(/[A-Z]/g, (c) => "-" + c.toLowerCase())}`;
}

export function isOutput(role: IoRole): role is FolderRole | FileRole {
  return role.role !== "input";
}

interface Given {
  flag: string;
  path: string;
  role: IoRole;
}

/** The paths the options hold, per role (an option may hold several, e.g. gap's --compare). */
function given(spec: IoSpec, options: object): Given[] {
  const values = options as Record<string, unknown>;
  const out: Given[] = [];
  for (const [key, role] of Object.entries(spec)) {
    const v = values[key];
    for (const path of Array.isArray(v) ? v : [v]) if (typeof path === "string" && path !== "") out.push({ flag: flagOf(key, role), path, role });
  }
  return out;
}

/** How `a` lies relative to `b` (both real), or null when apart. */
function overlap(a: string, b: string): string | null {
  if (a === b) return "is the same path as";
  if (isWithin(a, b)) return "lies inside";
  if (isWithin(b, a)) return "contains";
  return null;
}

/** Checks every output before any lock is taken: only paths, nothing on disk changes. */
function checkPaths(outputs: readonly Given[], inputs: readonly Given[]): void {
  for (const o of outputs) {
    assertNameFits(o.path, o.flag);
    assertOutputLocation(o.path, o.flag);
    const real = realPath(o.path);
    if (existsSync(real)) {
      const dir = statSync(real).isDirectory();
      if (o.role.role === "folder" && !dir) throw new UserError(`${o.flag} ${o.path} is a file, not a folder; choose a folder path`);
      if (o.role.role === "file" && dir) throw new UserError(`${o.flag} ${o.path} is a folder; give a file path`);
      if (o.role.role === "folder") assertNotProtected(o.path, o.flag);
    }
    for (const i of inputs) {
      const how = overlap(real, realPath(i.path));
      if (how)
        throw new UserError(
          `${o.flag} ${o.path} ${how} ${i.flag} ${i.path}: writing it would change the command's own input; choose an ${o.flag} outside every input`,
        );
    }
  }
  outputs.forEach((a, k) => {
    for (const b of outputs.slice(k + 1)) {
      const how = overlap(realPath(a.path), realPath(b.path));
      if (how) throw new UserError(`${a.flag} ${a.path} ${how} ${b.flag} ${b.path}: one output would overwrite the other; give each output its own path`);
    }
  });
}

/** Checks what already stands at each output, under its lock. */
function checkExisting(o: Given, force: boolean): void {
  if (o.role.role === "folder") {
    if (o.role.existing === "replace") checkReplaceable(resolve(o.path), o.role.kind, force, o.flag);
  } else if (o.role.role === "file" && existsSync(o.path) && !force) {
    throw new UserError(`${o.flag} ${o.path} already exists (use --force to replace it)`);
  }
}

export interface GuardedOutputs {
  /** Releases the output folders' locks (idempotent). */
  release(): void;
}

/**
 * The one output guard. Refuses, before any work: an output on a kernel file system, below a
 * file, or with a name too long for its temp and lock siblings; a folder output that is a file
 * and a file output that is a folder; an output that is, lies inside or contains one of the
 * command's inputs or another of its outputs; the root, home or working folder as an output
 * folder. Then takes each output folder's lock and, under it, refuses what stands there: a
 * non-empty folder without --force or not made by lavit as the same kind, an existing file
 * without --force. `options.force` is the command's --force.
 */
export function guardOutputs(spec: IoSpec, options: object): GuardedOutputs {
  const all = given(spec, options);
  const outputs = all.filter((g) => isOutput(g.role));
  checkPaths(
    outputs,
    all.filter((g) => !isOutput(g.role)),
  );
  const force = (options as { force?: unknown }).force === true;
  const locks: Lock[] = [];
  const release = () => {
    for (const l of locks.splice(0).reverse()) l.release();
  };
  try {
    for (const o of outputs) if (o.role.role === "folder") locks.push(acquireLock(o.path, o.flag));
    for (const o of outputs) checkExisting(o, force);
  } catch (e) {
    release();
    throw e;
  }
  return { release };
}

/** Runs `fn` with the outputs guarded (guardOutputs), their locks released whatever happens. */
export async function withOutputs<T>(spec: IoSpec, options: object, fn: () => Promise<T> | T): Promise<T> {
  const guard = guardOutputs(spec, options);
  try {
    return await fn();
  } finally {
    guard.release();
  }
}
