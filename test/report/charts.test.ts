import { describe, expect, it } from "vitest";
import { colourFor, lineChart, niceTicks } from "../../src/report/charts.js";

describe("charts", () => {
  it("gives a model the same colour everywhere, and other names stable colours", () => {
    expect(colourFor("lavit")).toBe(colourFor("lavit thoughts"));
    expect(colourFor("distill")).not.toBe(colourFor("lavit"));
    expect(colourFor("my-variant")).toBe(colourFor("my-variant"));
  });

  it("labels its axes, draws bands and hover values, and escapes names", () => {
    const svg = lineChart({
      title: "acc",
      xLabel: "train",
      yLabel: "accuracy",
      xLog: true,
      series: [
        {
          name: "<lavit>",
          points: [
            { x: 100, y: 0.3, lo: 0.2, hi: 0.4 },
            { x: 400, y: 0.5, lo: 0.45, hi: 0.55 },
          ],
        },
      ],
    });
    expect(svg).toContain(">train</text>");
    expect(svg).toContain(">accuracy</text>");
    expect(svg).toContain('class="band"');
    expect(svg).toContain("&lt;lavit&gt; at train 400: 0.500 [0.450, 0.550]");
    expect(svg).not.toContain("<lavit>");
  });

  it("says n/a rather than drawing an empty chart", () => {
    expect(lineChart({ title: "t", xLabel: "x", yLabel: "y", series: [{ name: "a", points: [{ x: 1, y: NaN }] }] })).toMatch(/n\/a/);
  });

  it("marks a series without values n/a in the legend", () => {
    const svg = lineChart({
      title: "t",
      xLabel: "x",
      yLabel: "y",
      series: [
        { name: "a", points: [{ x: 1, y: 2 }] },
        { name: "b", points: [{ x: 1, y: NaN }] },
      ],
    });
    expect(svg).toContain(">b (n/a)</text>");
    expect(svg).not.toContain("NaN");
  });

  it("widens for a long legend entry or title instead of clipping it", () => {
    const width = (svg: string) => Number(/ width="(\d+)"/.exec(svg)![1]);
    const points = [{ x: 1, y: 0.5 }];
    const short = lineChart({ title: "t", xLabel: "x", yLabel: "y", series: [{ name: "a", points }] });
    const longName = "bottleneck − bottleneck-no-align and then some";
    const legend = lineChart({ title: "t", xLabel: "x", yLabel: "y", series: [{ name: longName, points }] });
    const longTitle = "test-ood: accuracy, bottleneck − bottleneck-no-align against bottleneck − distill, by train (setting=hard)";
    const titled = lineChart({ title: longTitle, xLabel: "x", yLabel: "y", series: [{ name: "a", points }] });
    expect(width(short)).toBe(560);
    // The legend's text starts 36px right of the plot, which keeps its width: the entry's room grows with it.
    expect(width(legend) - width(short)).toBeGreaterThanOrEqual((longName.length - 16) * 6);
    expect(width(titled)).toBeGreaterThanOrEqual(longTitle.length * 7);
  });

  it("picks round ticks", () => {
    expect(niceTicks(0, 1)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
    expect(niceTicks(0.13, 0.41, 4)).toEqual([0.2, 0.3, 0.4]);
    expect(niceTicks(100, 1600)).toEqual([500, 1000, 1500]);
  });
});
