import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync, existsSync } from "node:fs";
import { UserError } from "../errors.js";
import { dirname, join, basename } from "node:path";
import { randomBytes } from "node:crypto";
import { rm } from "node:fs/promises";
import { onInterrupt } from "./interrupt.js";
import { writeMarker, type OutputKind } from "./marker.js";
import { hostName, processAlive } from "./process.js";
import { assertNotSpecial } from "./paths.js";

/** Inside every temp folder: who made it, so a later run can tell a dead run's leftovers. */
const OWNER_FILE = ".lavit-owner.json";

/** A temp name beside `path` that removeStaleSiblings recognises once its process is gone. */
export function tempSibling(path: string): string {
  return siblingName(path, "tmp");
}

function siblingName(path: string, tag: string): string {
  return join(dirname(path), `.${tag}-${basename(path)}-${process.pid}-${randomBytes(4).toString("hex")}`);
}

/** `.tmp-`, `.old-` and `.trash-<name>-<pid>-<8 hex>`: the names siblingName makes. */
const SIBLING = /^\.(tmp|old|trash)-.+-(\d+)-[0-9a-f]{8}$/;

export interface StaleRemoval {
  /** The leftovers found (their names before they were moved aside). */
  moved: string[];
  /** Settles once they are deleted (never rejects). */
  done: Promise<void>;
}

/**
 * Clears temp and moved-aside siblings left in `parent` by lavit runs whose process is gone
 * (a kill -9 or a power cut skips their own clean-up). One such folder can hold gigabytes, and
 * deleting it first held a run up, silent and deaf to Ctrl-C, for minutes: so each is renamed
 * to a `.trash-` name of this process (instant) and deleted in the background, saying so in one
 * stderr line. If this run stops first, the next one finds the trash (its process gone) and
 * goes on. A folder whose owner record names another host is left alone: its process cannot
 * be checked.
 */
export function removeStaleSiblings(parent: string, opts: { quiet?: boolean } = {}): StaleRemoval {
  let names: string[];
  try {
    names = readdirSync(parent);
  } catch {
    return { moved: [], done: Promise.resolve() };
  }
  const moved: string[] = [];
  const trash: string[] = [];
  const host = hostName();
  for (const name of names) {
    const m = SIBLING.exec(name);
    if (!m) continue;
    let pid = Number(m[2]);
    const full = join(parent, name);
    try {
      const owner = JSON.parse(readFileSync(join(full, OWNER_FILE), "utf8")) as { pid?: number; host?: string };
      if (owner.host !== host) continue;
      if (typeof owner.pid === "number") pid = owner.pid;
    } catch {
      // a file, or a folder without a record: the pid in the name is all there is
    }
    if (pid === process.pid || processAlive(pid)) continue;
    const aside = siblingName(full, "trash");
    try {
      renameSync(full, aside);
    } catch {
      // another run moved it first, or it is not ours to move: leave it
      continue;
    }
    moved.push(full);
    trash.push(aside);
  }
  if (moved.length && !opts.quiet) {
    const shown = moved.slice(0, 3).map((m) => basename(m));
    process.stderr.write(
      `lavit: deleting ${moved.length} temp folder${moved.length > 1 ? "s" : ""} left by a stopped run in ${parent}, in the background (${shown.join(", ")}${moved.length > 3 ? `, and ${moved.length - 3} more` : ""})\n`,
    );
  }
  // Errors are dropped: whatever is left keeps its .trash- name for a later run.
  const done = Promise.all(trash.map((t) => rm(t, { recursive: true, force: true }).catch(() => {}))).then(() => {});
  return { moved, done };
}

/** Writes a file via temp file + rename so a crash never leaves a half-written file. */
export function writeFileAtomic(path: string, data: string | Uint8Array): void {
  assertNotSpecial(path);
  if (existsSync(path) && statSync(path).isDirectory()) throw new UserError(`${path} is a folder, but a file is written there; give a file path`);
  mkdirSync(dirname(path), { recursive: true });
  const tmp = siblingName(path, "tmp");
  try {
    writeFileSync(tmp, data);
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw asErrorOn(e, path);
  }
}

/** A file-system error on a temp sibling, told as one on the path the user knows. */
function asErrorOn(e: unknown, path: string): unknown {
  const err = e as NodeJS.ErrnoException & { dest?: string };
  if (err && typeof err === "object" && typeof err.code === "string") {
    err.path = path;
    delete err.dest;
  }
  return e;
}

/** The temp folder of a build in progress, and how to stop it being removed on a signal. */
interface Building {
  tmp: string;
  settle: () => void;
}

function beginDir(finalDir: string): Building {
  assertNotSpecial(finalDir);
  mkdirSync(dirname(finalDir), { recursive: true });
  removeStaleSiblings(dirname(finalDir));
  const tmp = siblingName(finalDir, "tmp");
  try {
    mkdirSync(tmp, { recursive: true });
  } catch (e) {
    throw asErrorOn(e, dirname(finalDir));
  }
  // A run stopped by a signal leaves no half-built folder behind.
  const settle = onInterrupt(() => rmSync(tmp, { recursive: true, force: true }));
  writeFileSync(join(tmp, OWNER_FILE), JSON.stringify({ pid: process.pid, host: hostName(), started: new Date().toISOString() }) + "\n");
  return { tmp, settle };
}

function commitDir(tmp: string, finalDir: string, kind: OutputKind | undefined): void {
  rmSync(join(tmp, OWNER_FILE), { force: true });
  if (kind) writeMarker(tmp, kind);
  if (existsSync(finalDir)) {
    const old = siblingName(finalDir, "old");
    renameSync(finalDir, old);
    renameSync(tmp, finalDir);
    rmSync(old, { recursive: true, force: true });
  } else {
    renameSync(tmp, finalDir);
  }
}

/**
 * Builds a directory in a temp sibling and renames it into place at the end, so a
 * half-finished run never replaces (or masquerades as) a finished one. An existing folder is
 * moved aside first and deleted only once the new one is in place. With a `kind`, the new
 * folder carries lavit's marker (see marker.ts), so a later --force may replace it. Leftover
 * temp folders of dead runs in the same parent are deleted in the background. A signal
 * removes the temp folder before the process dies.
 */
export async function buildDirAtomic<T>(finalDir: string, build: (tmpDir: string) => Promise<T> | T, kind?: OutputKind): Promise<T> {
  const { tmp, settle } = beginDir(finalDir);
  try {
    const result = await build(tmp);
    commitDir(tmp, finalDir, kind);
    return result;
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  } finally {
    settle();
  }
}

/** buildDirAtomic for a synchronous build: the folder is in place when this returns. */
export function buildDirAtomicSync<T>(finalDir: string, build: (tmpDir: string) => T, kind?: OutputKind): T {
  const { tmp, settle } = beginDir(finalDir);
  try {
    const result = build(tmp);
    commitDir(tmp, finalDir, kind);
    return result;
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  } finally {
    settle();
  }
}
