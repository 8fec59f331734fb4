import { isUserError } from "../errors.js";
import { runTask, type StudyTask } from "./tasks.js";

/**
 * One job in its own process (see pool.ts): the parent sends the task, this runs it and
 * reports back. Progress reaches the parent over the same channel.
 */
export type WorkerTask = StudyTask;
export type WorkerReply = { type: "done" } | { type: "error"; message: string; user: boolean };

let finishing = false;

// The parent's death (even kill -9) closes the IPC channel: an orphan would go on writing into
// a folder a rerun may be using, so it stops. Long work itself checks at every progress tick
// (util/progress.ts), since a synchronous loop does not see this event until it yields.
process.on("disconnect", () => {
  if (!finishing) process.exit(130);
});
// A parent that died while this process was still loading closed the channel before the
// handler above existed.
if (!process.connected) process.exit(130);

process.once("message", (task: WorkerTask) => {
  runTask(task).then(
    () => finish({ type: "done" }, 0),
    (e: unknown) =>
      finish({ type: "error", message: isUserError(e) ? e.message : e instanceof Error ? (e.stack ?? e.message) : String(e), user: isUserError(e) }, 1),
  );
});

function finish(reply: WorkerReply, code: number): void {
  finishing = true;
  if (!process.connected) {
    process.exit(code);
    return;
  }
  process.send!(reply, () => {
    process.disconnect();
    process.exitCode = code;
  });
}
