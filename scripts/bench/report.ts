/**
 * The benchmark report: one text table, the raw results as JSON, a chart as
 * SVG, and the README section between its markers.
 *
 * @module
 */

import { type CaseResult, format, isOurs } from "./harness.ts";

/** Everything one `deno task bench` run produced. */
export interface BenchReport {
  date: string;
  machine: string;
  quick: boolean;
  rounds: number;
  cases: CaseResult[];
}

/** The ratio wirebox/peer for a metric, oriented so that > 1 means wirebox is better. */
export function advantage(result: CaseResult, metricKey: string, peer: string): number | undefined {
  const metric = result.metrics.find((candidate) => candidate.key === metricKey);
  const ours = result.medians.wirebox?.[metricKey];
  const theirs = result.medians[peer]?.[metricKey];
  if (!metric || ours === undefined || theirs === undefined || !ours || !theirs) return undefined;
  return metric.higherIsBetter ? ours / theirs : theirs / ours;
}

/** The report as a Markdown table (also readable as plain text). */
export function table(report: BenchReport): string {
  const rows = [
    "| scenario | case | metric | wirebox | peers (median) | wirebox/peer | targets |",
    "|---|---|---|---|---|---|---|",
  ];
  for (const result of report.cases) {
    for (const metric of result.metrics) {
      const variants = Object.keys(result.medians).filter((name) => isOurs(name) && name !== "wirebox");
      const peers = Object.keys(result.medians).filter((name) => !isOurs(name));
      const peerText = [...variants, ...peers].map((name) => `${name} ${format(result.medians[name][metric.key])}`)
        .join("; ") || "-";
      const ratios = peers.map((name) => {
        const ours = result.medians.wirebox?.[metric.key];
        const theirs = result.medians[name][metric.key];
        return ours === undefined || !theirs ? "-" : `${format(ours / theirs)}× ${name}`;
      }).join("; ") || "-";
      const verdicts = result.targets.filter((target) => target.metric === metric.key)
        .map((target) => `${target.text}: ${target.met === undefined ? "n/a" : target.met ? "met" : "MISSED"}`)
        .join("; ");
      const better = metric.higherIsBetter ? "↑" : "↓";
      rows.push(
        `| ${result.scenario} | ${result.name} | ${metric.key} (${metric.unit} ${better}) | ` +
          `${format(result.medians.wirebox?.[metric.key])} | ${peerText} | ${ratios} | ${verdicts || "-"} |`,
      );
    }
    for (const [name, why] of Object.entries(result.skipped)) {
      rows.push(`| ${result.scenario} | ${result.name} | skipped | | ${name}: ${why} | | |`);
    }
    for (const failure of result.failures) {
      rows.push(
        `| ${result.scenario} | ${result.name} | FAILED | | ${failure.contender} round ${failure.round}: ${
          failure.error.replaceAll("|", "/")
        } | | |`,
      );
    }
  }
  return rows.join("\n");
}

const escapeXml = (text: string) =>
  text.replace(/[<>&"]/g, (c) => `&${{ "<": "lt", ">": "gt", "&": "amp", '"': "quot" }[c]};`);

/**
 * A bar chart: one group per case and metric, one bar per contender, each
 * bar relative to the best contender of its group (so longer is better
 * whatever the metric's direction), labelled with its real value.
 */
export function chart(report: BenchReport): string {
  const groups = report.cases.flatMap((result) =>
    result.metrics.map((metric) => ({ result, metric, names: Object.keys(result.medians) }))
  ).filter((group) => group.names.length > 0);
  const barHeight = 14;
  const labelWidth = 330;
  const barWidth = 420;
  const width = labelWidth + barWidth + 120;
  let y = 40;
  const parts: string[] = [];
  for (const { result, metric, names } of groups) {
    const values = names.map((name) => result.medians[name][metric.key]).filter((value) => value > 0);
    const best = metric.higherIsBetter ? Math.max(...values) : Math.min(...values);
    parts.push(
      `<text x="8" y="${y + 11}" font-weight="bold">${escapeXml(`${result.scenario}: ${result.name}`)} — ` +
        `${escapeXml(metric.key)} (${escapeXml(metric.unit)}, ${
          metric.higherIsBetter ? "higher" : "lower"
        } is better)</text>`,
    );
    y += barHeight + 6;
    for (const name of names) {
      const value = result.medians[name][metric.key];
      const relative = !(value > 0) ? 0 : metric.higherIsBetter ? value / best : best / value;
      const length = Math.max(1, Math.round(relative * barWidth));
      const color = name === "wirebox" ? "#2563eb" : "#9ca3af";
      parts.push(
        `<text x="${labelWidth - 8}" y="${y + 11}" text-anchor="end">${escapeXml(name)}</text>`,
        `<rect x="${labelWidth}" y="${y}" width="${length}" height="${barHeight}" fill="${color}"/>`,
        `<text x="${labelWidth + length + 6}" y="${y + 11}">${escapeXml(format(value))}</text>`,
      );
      y += barHeight + 4;
    }
    y += 12;
  }
  const title = `wirebox benchmarks, ${report.date}${report.quick ? " (quick)" : ""} — ${report.machine}`;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${
    y + 10
  }" font-family="sans-serif" font-size="12">
<rect width="100%" height="100%" fill="white"/>
<text x="8" y="22" font-size="14" font-weight="bold">${escapeXml(title)}</text>
${parts.join("\n")}
</svg>
`;
}

const START = "<!-- bench:start -->";
const END = "<!-- bench:end -->";

/** Replaces the README's benchmark section (between its markers) with this report. */
export function readmeSection(report: BenchReport, chartPath: string): string {
  return `${START}
Measured ${report.date} on ${report.machine}, loopback only, ${report.rounds} alternating rounds per case
(medians; ↑ higher is better, ↓ lower is better). Raw results: \`bench/results/latest.json\`.

![benchmark chart](${chartPath})

${table(report)}
${END}`;
}

/** Writes `section` into `readme` between the markers (appending them if absent). */
export function updateReadme(readme: string, section: string): string {
  const start = readme.indexOf(START);
  const end = readme.indexOf(END);
  if (start < 0 || end < 0) return `${readme.trimEnd()}\n\n## Benchmarks\n\n${section}\n`;
  return readme.slice(0, start) + section + readme.slice(end + END.length);
}
