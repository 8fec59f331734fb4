import { describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";

/** The examples of docs/api.md: the first code block under each "## Example" heading. */
function examples(): string[] {
  const doc = readFileSync(join("docs", "api.md"), "utf8");
  return doc
    .split(/^## Example \d+/m)
    .slice(1)
    .map((section) => /```ts\n([\s\S]*?)```/.exec(section)![1]);
}

/** Every declaration file the package's entry point reaches, with the bare modules each imports. */
function declarationImports(entry: string): Map<string, string[]> {
  const seen = new Map<string, string[]>();
  const queue = [entry];
  while (queue.length) {
    const file = queue.pop()!;
    if (seen.has(file)) continue;
    const bare: string[] = [];
    seen.set(file, bare);
    for (const m of readFileSync(file, "utf8").matchAll(/(?:from|import\()\s*"([^"]+)"/g)) {
      if (m[1].startsWith(".")) queue.push(join(dirname(file), m[1].replace(/\.js$/, ".d.ts")));
      else bare.push(m[1]);
    }
  }
  return seen;
}

/** A project of a user's own, depending on this package as `lavit` (node_modules/lavit is this folder). */
function userProject(): string {
  const dir = mkdtempSync(join(tmpdir(), "lavit-user-"));
  mkdirSync(join(dir, "node_modules", "@types"), { recursive: true });
  symlinkSync(resolve("."), join(dir, "node_modules", "lavit"), "dir");
  symlinkSync(resolve("node_modules", "@types", "node"), join(dir, "node_modules", "@types", "node"), "dir");
  writeFileSync(join(dir, "package.json"), JSON.stringify({ name: "user", private: true, type: "module" }));
  return dir;
}

const bin = (name: string) => resolve("node_modules", ".bin", name);

describe("docs/api.md, run from the built package", () => {
  it("the entry point's types reach no tensor library", () => {
    expect(existsSync(join("dist", "index.d.ts")), "dist/index.d.ts is missing: run `npm run build`").toBe(true);
    const reached = declarationImports(join("dist", "index.d.ts"));
    expect(reached.size).toBeGreaterThan(10);
    for (const [file, bare] of reached) for (const m of bare) expect(m, `${file} imports ${m}`).not.toMatch(/^@tensorflow\//);
  });

  it("its three examples, and a typed user program, compile with skipLibCheck false and run", () => {
    expect(existsSync(join("dist", "index.js")), "dist/index.js is missing: run `npm run build`").toBe(true);
    const code = examples();
    expect(code).toHaveLength(3);
    const dir = userProject();
    code.forEach((c, i) => writeFileSync(join(dir, `example${i + 1}.ts`), c));
    writeFileSync(join(dir, "user.ts"), readFileSync(join("test", "fixtures", "library-user.ts")));
    writeFileSync(
      join(dir, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: {
          target: "ES2022",
          module: "NodeNext",
          moduleResolution: "NodeNext",
          strict: true,
          skipLibCheck: false,
          noEmit: true,
          types: ["node"],
          lib: ["ES2022"],
        },
        include: ["*.ts"],
      }),
    );
    const tsc = spawnSync(bin("tsc"), ["-p", "."], { cwd: dir, encoding: "utf8" });
    expect(tsc.status, tsc.stdout + tsc.stderr).toBe(0);

    const run = (i: number) => {
      const r = spawnSync(bin("tsx"), [`example${i}.ts`], { cwd: dir, encoding: "utf8", env: { ...process.env, LAVIT_NO_PROGRESS: "1" } });
      expect(r.status, r.stderr).toBe(0);
      return r.stdout.trim().split("\n");
    };
    const sweep = run(1);
    expect(sweep).toHaveLength(3);
    sweep.forEach((l, i) =>
      expect(l).toMatch(new RegExp(`^lr ${["0.0003", "0.001", "0.003"][i]}: final loss \\d+\\.\\d{3}, test-ood accuracy [01]\\.\\d{3} \\(8 questions\\)$`)),
    );

    const logged = run(2);
    expect(logged.filter((l) => /^step \d\/6: loss \d/.test(l)).map((l) => l.slice(0, 8))).toEqual([1, 2, 3, 4, 5, 6].map((s) => `step ${s}/6`));
    const curve = JSON.parse(logged.find((l) => l.startsWith("learning curve: "))!.slice("learning curve: ".length)) as { step: number; accuracy: number }[];
    expect(curve.map((c) => c.step)).toEqual([3, 6]);
    for (const c of curve) expect(c.accuracy).toBeGreaterThanOrEqual(0);

    const scored = run(3);
    const score = (name: string) => JSON.parse(scored.find((l) => l.startsWith(name + " "))!.slice(name.length + 1)) as Record<string, number>;
    // A gaze spread over the evidence patches has all its mass there; the centre and even gazes have less.
    expect(score("evidence").grounding_mass).toBeCloseTo(1, 5);
    expect(score("centre").grounding_mass).toBeLessThan(1);
    expect(score("uniform").grounding_mass).toBeLessThan(score("evidence").grounding_mass);
    for (const name of ["centre", "evidence"]) expect(score(name).js_to_teacher).toBeGreaterThan(0);
    expect(scored.at(-1)).toMatch(/^JS\(centre, teacher\) on the first step: 0\.\d{4}$/);
  }, 600_000);
});
