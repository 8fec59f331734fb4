import { describe, expect, it } from "vitest";
import { checkJoin, idKey, joinNotice, joinSignals, normaliseQuestion, resultId } from "../../src/signals/join.js";
import { isUserError } from "../../src/errors.js";
import { answerTarget } from "../../src/train/target-text.js";

const where = { signals: "sig", data: "ds", split: "train" };
const samples = [
  { id: "000007", question: "Which fruit is bigger?" },
  { id: "000012", question: "how many red circles ?" },
  { id: "s3", question: "is it left" },
];

function userError(f: () => unknown): Error {
  try {
    f();
  } catch (e) {
    expect(isUserError(e), String(e)).toBe(true);
    return e as Error;
  }
  throw new Error("expected a UserError");
}

describe("the join of signals with a split", () => {
  it("compares integer ids as integers and any other id as written", () => {
    expect(idKey("000017")).toBe("17");
    expect(idKey(17)).toBe("17");
    expect(idKey("17a")).toBe("17a");
    expect(idKey("00x")).toBe("00x");
    expect(resultId({ id: "s3", question_id: 5 })).toBe("s3");
    expect(resultId({ question_id: 5 })).toBe("5");
    expect(resultId({})).toBeUndefined();
  });

  it("normalises case, whitespace, punctuation spacing and the <image> marker, nothing else", () => {
    expect(normaliseQuestion("<image>\nHow many  red circles?")).toBe(normaliseQuestion("how many red circles ?"));
    expect(normaliseQuestion("Is it left,or right?")).toBe(normaliseQuestion("is it left , or right ?"));
    expect(normaliseQuestion("how many red circles?")).not.toBe(normaliseQuestion("how many blue circles?"));
  });

  it("joins question_id to the manifest's id, never to a line number, in the manifest's order", () => {
    // The manifest's line 0 is id 7: question_id 0 is no sample of it.
    const results = [
      { question_id: 12, question: "How many red circles?" },
      { question_id: 0, question: "Which fruit is bigger?" },
      { question_id: 7, question: "which fruit is bigger ?" },
    ];
    const j = joinSignals(results, samples, where);
    expect(j.pairs).toEqual([
      { result: 2, sample: 0 },
      { result: 0, sample: 1 },
    ]);
    expect(j.onlyInSignals).toEqual(["0"]);
    expect(j.onlyInData).toEqual(["s3"]);
    // The same results in another order give the same samples in the same order.
    const reversed = joinSignals([...results].reverse(), samples, where);
    expect(reversed.pairs.map((p) => p.sample)).toEqual([0, 1]);
    expect(reversed.pairs.map((p) => [...results].reverse()[p.result].question_id)).toEqual([7, 12]);
  });

  it("refuses a joined pair whose questions differ, naming both texts and the id", () => {
    const e = userError(() => joinSignals([{ question_id: 7, question: "what colour is the square?" }], samples, where));
    expect(e.message).toContain("sample 7");
    expect(e.message).toContain('"what colour is the square?"');
    expect(e.message).toContain('"Which fruit is bigger?"');
  });

  it("refuses the same id twice on either side", () => {
    expect(userError(() => joinSignals([{ question_id: 7 }, { id: "07" }], samples, where)).message).toMatch(/results\.0 and results\.1/);
    expect(userError(() => joinSignals([{ question_id: 7 }], [...samples, { id: "7", question: "q" }], where)).message).toMatch(/000007 and 7/);
  });

  it("counts unmatched samples, refuses them with strict, and refuses a join with nothing in common", () => {
    const j = joinSignals([{ question_id: 7 }, { question_id: 99 }], samples, where);
    expect(joinNotice(j, where)).toMatch(/1 samples; 1 in the signals but not in the split \(99\); 2 of the split without signals/);
    expect(checkJoin(j, where, false)).toBe(joinNotice(j, where));
    expect(userError(() => checkJoin(j, where, true)).message).toMatch(/^--strict: /);
    const all = joinSignals(
      samples.map((s) => ({ id: s.id })),
      samples,
      where,
    );
    expect(checkJoin(all, where, true)).toBeNull();
    expect(userError(() => checkJoin(joinSignals([{ question_id: 1 }], samples, where), where, false)).message).toMatch(/no sample/);
  });
});

describe("the student's target", () => {
  it("keeps a lavit answer, wraps an official bare answer for a lavit dataset, keeps free text", () => {
    expect(answerTarget("look red circle 1 2 ; answer 3", "3", "lavit")).toBe("look red circle 1 2 ; answer 3");
    expect(answerTarget("orange", "orange", "lavit")).toBe("answer orange");
    expect(answerTarget("The orange one.", "orange", "free")).toBe("The orange one.");
  });
});
