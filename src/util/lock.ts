import { linkSync, lstatSync, mkdirSync, readFileSync, renameSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { basename, dirname, join } from "node:path";
import { UserError } from "../errors.js";
import { assertNameFits, realPath } from "./paths.js";
import { hostName, processAlive } from "./process.js";
import { onInterrupt } from "./interrupt.js";

/**
 * One writer per output folder. The lock is a sibling file `.<name>.lavit-lock` (beside the
 * folder, so it works for folders built in a temp sibling and renamed into place) holding who
 * writes: pid, host, start time. It is created complete and atomically (written to a temp
 * file, then hard-linked to its name, which fails if it exists). A lock whose process is gone
 * on this host is taken over with a warning; one held on another host cannot be checked and
 * is refused.
 */
export interface LockOwner {
  pid: number;
  host: string;
  started: string;
  token: string;
  command: string;
}

export interface Lock {
  readonly file: string;
  release(): void;
}

const held = new Map<string, { owner: LockOwner; count: number }>();
let handlersInstalled = false;

export function lockFileFor(out: string): string {
  const real = realPath(out);
  return join(dirname(real), `.${basename(real)}.lavit-lock`);
}

function readOwner(file: string): LockOwner | null {
  try {
    const o = JSON.parse(readFileSync(file, "utf8")) as Partial<LockOwner>;
    if (typeof o.pid !== "number" || typeof o.host !== "string") return null;
    return { pid: o.pid, host: o.host, started: String(o.started ?? "?"), token: String(o.token ?? ""), command: String(o.command ?? "") };
  } catch {
    return null;
  }
}

function releaseAll(): void {
  for (const [file, h] of held) {
    if (readOwner(file)?.token === h.owner.token) rmSync(file, { force: true });
  }
  held.clear();
}

function installHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  process.on("exit", releaseAll);
  onInterrupt(releaseAll);
}

/**
 * Refuses a lock path that holds something other than a lock file (a folder, a FIFO): it is not
 * ours to move aside or delete, and no lock can be taken there.
 */
function assertLockSlot(file: string, out: string, flag: string): void {
  let st;
  try {
    st = lstatSync(file);
  } catch {
    return;
  }
  if (!st.isFile() && !st.isSymbolicLink())
    throw new UserError(
      `${flag} ${out}: its lock path ${file} is ${st.isDirectory() ? "a folder" : "not a file"}, so no lock can be taken; remove it yourself or choose another ${flag}`,
    );
}

function tryCreate(file: string, owner: LockOwner): boolean {
  const tmp = `${file}.${process.pid}-${randomBytes(4).toString("hex")}`;
  writeFileSync(tmp, JSON.stringify(owner) + "\n");
  try {
    linkSync(tmp, file);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw e;
  } finally {
    rmSync(tmp, { force: true });
  }
}

/**
 * Takes the lock of output folder `out` for this process (re-entrant within it). `flag` names
 * the folder in messages. A second writer gets a UserError (exit 2) naming the holder.
 */
export function acquireLock(out: string, flag = "--out"): Lock {
  assertNameFits(out, flag);
  const file = lockFileFor(out);
  const mine = held.get(file);
  if (mine) {
    mine.count += 1;
    return handle(file);
  }
  mkdirSync(dirname(file), { recursive: true });
  const owner: LockOwner = {
    pid: process.pid,
    host: hostName(),
    started: new Date().toISOString(),
    token: randomBytes(8).toString("hex"),
    command: process.argv.slice(2).join(" ").slice(0, 200),
  };
  for (let attempt = 0; attempt < 5; attempt++) {
    assertLockSlot(file, out, flag);
    if (tryCreate(file, owner)) {
      installHandlers();
      held.set(file, { owner, count: 1 });
      return handle(file);
    }
    const holder = readOwner(file);
    if (holder && (holder.host !== owner.host || processAlive(holder.pid)))
      throw new UserError(
        `${flag} ${out} is being written by another lavit run (pid ${holder.pid} on ${holder.host}, since ${holder.started}${holder.command ? `: lavit ${holder.command}` : ""}); wait for it to end or choose another ${flag} (lock file ${file}; delete it only if that run is gone)`,
      );
    // Dead holder (or a record cut short by a crash): move it aside under a unique name, and
    // check that what was moved is the record judged dead, not a lock just taken by a
    // concurrent run doing the same.
    const aside = `${file}.stale-${process.pid}-${randomBytes(4).toString("hex")}`;
    try {
      renameSync(file, aside);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") continue;
      throw e;
    }
    const moved = readOwner(aside);
    if (holder && moved && moved.token !== holder.token) {
      // Someone else's fresh lock: put it back (link fails only if yet another run holds it now).
      try {
        linkSync(aside, file);
      } catch {
        // the slot is taken anyway; the next attempt reports its holder
      }
      unlinkSync(aside);
      continue;
    }
    rmSync(aside, { force: true });
    process.stderr.write(
      `lavit: taking over the lock of ${out}: ${holder ? `its holder (pid ${holder.pid}, since ${holder.started}) is no longer running` : "its lock file was unreadable"}\n`,
    );
  }
  throw new UserError(`${flag} ${out}: could not take the lock ${file} (other runs keep taking it); try again`);
}

function handle(file: string): Lock {
  let released = false;
  return {
    file,
    release() {
      if (released) return;
      released = true;
      const h = held.get(file);
      if (!h) return;
      h.count -= 1;
      if (h.count > 0) return;
      held.delete(file);
      if (readOwner(file)?.token === h.owner.token) rmSync(file, { force: true });
    },
  };
}

/** Runs `fn` holding the lock of `out`, released whatever happens. */
export async function withLock<T>(out: string, fn: () => Promise<T> | T, flag = "--out"): Promise<T> {
  const lock = acquireLock(out, flag);
  try {
    return await fn();
  } finally {
    lock.release();
  }
}
