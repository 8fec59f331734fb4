import { UserError } from "../errors.js";

/**
 * Joining signals (either layout, or a trajectory folder) with a dataset split: the one rule
 * `train student`, `signals check` and `lavit gap` share.
 *
 * A result stands for the manifest sample whose `id` equals its own `id` (lavit's writers store
 * it) or, without one, its `question_id` (the official builder's integer). Ids that are both
 * integers compare as integers ("000017" is 17); any other id compares as written. Never by
 * position: the official builder shuffles its source and skips failures, so a question_id is
 * not a line number.
 */
const INTEGER = /^[+-]?\d+$/;

/** The form two ids are compared in: an integer's canonical digits, else the id as written. */
export function idKey(id: string | number): string {
  const s = String(id).trim();
  return INTEGER.test(s) ? BigInt(s).toString() : s;
}

/** The id a signals result names its sample by (its `id`, else its `question_id`), or undefined. */
export function resultId(result: { id?: unknown; question_id?: unknown }): string | undefined {
  const raw = typeof result.id === "string" && result.id !== "" ? result.id : result.question_id;
  if (typeof raw === "string" && raw !== "") return raw;
  if (typeof raw === "number" && Number.isSafeInteger(raw)) return String(raw);
  return undefined;
}

/**
 * A question as compared across files: the official builder strips the conversation's
 * `<image>` marker and keeps the text; other tools lowercase, re-space punctuation or wrap it
 * in a prompt's whitespace. Case, whitespace and the spacing around punctuation do not count.
 */
export function normaliseQuestion(q: string): string {
  return q
    .replace(/<image>/gi, " ")
    .toLowerCase()
    .replace(/([^\p{L}\p{N}\s])/gu, " $1 ")
    .replace(/\s+/g, " ")
    .trim();
}

export interface JoinWhere {
  /** The signals folder (for messages). */
  signals: string;
  /** The dataset folder and split (for messages). */
  data: string;
  split: string;
}

export interface JoinResult {
  /** Joined pairs in the manifest's order: index into the results, index into the split. */
  pairs: { result: number; sample: number }[];
  /** Ids of results that are not samples of the split. */
  onlyInSignals: string[];
  /** Ids of split samples that have no result. */
  onlyInData: string[];
}

const quote = (s: string, max = 120) => JSON.stringify(s.length > max ? `${s.slice(0, max)}...` : s);

/**
 * Joins results with a split's samples by id (see above); a joined pair whose questions differ
 * (normalised) is an error naming both texts and the id, as is an id given twice on either side.
 * A result without a question is joined by id alone (attention dumps always carry one).
 */
export function joinSignals(
  results: readonly { id?: unknown; question_id?: unknown; question?: unknown }[],
  samples: readonly { id: string; question: string }[],
  where: JoinWhere,
): JoinResult {
  const bySample = new Map<string, number>();
  samples.forEach((s, i) => {
    const k = idKey(s.id);
    const before = bySample.get(k);
    if (before !== undefined)
      throw new UserError(`${where.data} split ${where.split}: sample ids ${samples[before].id} and ${s.id} are the same id; the signals cannot be joined`);
    bySample.set(k, i);
  });
  const byResult = new Map<string, number>();
  const onlyInSignals: string[] = [];
  results.forEach((r, i) => {
    const id = resultId(r);
    if (id === undefined) throw new UserError(`${where.signals}: results.${i} has neither id nor question_id`);
    const k = idKey(id);
    const before = byResult.get(k);
    if (before !== undefined) throw new UserError(`${where.signals}: results.${before} and results.${i} are both sample ${id}`);
    byResult.set(k, i);
    const s = bySample.get(k);
    if (s === undefined) {
      onlyInSignals.push(id);
      return;
    }
    if (typeof r.question === "string" && r.question.trim() !== "" && normaliseQuestion(r.question) !== normaliseQuestion(samples[s].question))
      throw new UserError(
        `${where.signals}: sample ${id}: the signals' question ${quote(r.question)} is not ${where.data} split ${where.split}'s question ${quote(samples[s].question)} for that id (the signals belong to other data)`,
      );
  });
  const pairs: JoinResult["pairs"] = [];
  const onlyInData: string[] = [];
  samples.forEach((s, i) => {
    const r = byResult.get(idKey(s.id));
    if (r === undefined) onlyInData.push(s.id);
    else pairs.push({ result: r, sample: i });
  });
  return { pairs, onlyInSignals, onlyInData };
}

const some = (ids: readonly string[]) => ids.slice(0, 3).join(", ") + (ids.length > 3 ? ", ..." : "");

/** The stderr line a join reports when a side has samples the other lacks; null when they match. */
export function joinNotice(j: JoinResult, where: JoinWhere): string | null {
  const parts: string[] = [];
  if (j.onlyInSignals.length) parts.push(`${j.onlyInSignals.length} in the signals but not in the split (${some(j.onlyInSignals)})`);
  if (j.onlyInData.length) parts.push(`${j.onlyInData.length} of the split without signals (${some(j.onlyInData)})`);
  if (!parts.length) return null;
  return `${where.signals} joined with ${where.data} split ${where.split}: ${j.pairs.length} samples; ${parts.join("; ")}`;
}

/**
 * The join's verdict on unmatched samples: with strict, any is an error; with none joined,
 * always. Returns the notice to print (null when every sample matched).
 */
export function checkJoin(j: JoinResult, where: JoinWhere, strict: boolean): string | null {
  const notice = joinNotice(j, where);
  if (!j.pairs.length)
    throw new UserError(
      `${where.signals}: no sample of ${where.data} split ${where.split} has signals (ids are compared: ${some(j.onlyInSignals)} in the signals, ${some(j.onlyInData)} in the split)`,
    );
  if (strict && notice) throw new UserError(`--strict: ${notice}`);
  return notice;
}
