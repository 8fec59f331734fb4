import { isUserError } from "../errors.js";
import { trainStudent, type StudentOptions } from "../stages/train-student.js";

/**
 * One student's training in its own process (see parallel.ts): the parent sends the options,
 * this trains and reports back. Progress reaches the parent over the same channel.
 */
export type WorkerReply = { type: "done" } | { type: "error"; message: string; user: boolean };

process.once("message", (options: StudentOptions) => {
  trainStudent(options).then(
    () => finish({ type: "done" }, 0),
    (e: unknown) => finish({ type: "error", message: isUserError(e) ? e.message : e instanceof Error ? (e.stack ?? e.message) : String(e), user: isUserError(e) }, 1),
  );
});

function finish(reply: WorkerReply, code: number): void {
  process.send!(reply, () => {
    process.disconnect();
    process.exitCode = code;
  });
}
