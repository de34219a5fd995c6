/**
 * `deno task bench [--quick] [--only NAMES] [--rounds N] [--readme]`: runs
 * wirebox and the tools people use today side by side on loopback, in one
 * run, and reports medians and ratios. Installs nothing; a scenario whose
 * peer is missing says so and skips it (scripts/bench/README).
 *
 * @module
 */

import { parseArgs } from "node:util";
import { missingPrograms } from "../../tests/_helpers/cli.ts";
import { type Case, type CaseResult, isOurs, runCase } from "./harness.ts";
import { machine } from "./proc.ts";
import { type BenchReport, chart, readmeSection, table, updateReadme } from "./report.ts";
import { SCENARIOS } from "./scenarios/mod.ts";

const ROOT = new URL("../../", import.meta.url);

async function main(): Promise<number> {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      quick: { type: "boolean" },
      only: { type: "string" },
      rounds: { type: "string" },
      readme: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    console.log(
      `Usage: deno task bench [--quick] [--only ${SCENARIOS.map((s) => s.name).join(",")}] [--rounds N] [--readme]

  --quick     a small version of every scenario (CI smoke; well under two minutes)
  --only      run only these scenarios (comma-separated)
  --rounds N  rounds per case, alternating contenders (default 3)
  --readme    write the table and chart into README.md (full runs)`,
    );
    return 0;
  }
  const quick = values.quick ?? false;
  const rounds = Number(values.rounds ?? 3);
  if (!Number.isInteger(rounds) || rounds < 1) throw new RangeError(`--rounds must be a positive whole number`);
  const only = values.only?.split(",").map((name) => name.trim());
  const unknown = only?.filter((name) => !SCENARIOS.some((scenario) => scenario.name === name)) ?? [];
  if (unknown.length > 0) throw new RangeError(`Unknown scenario ${unknown.join(", ")}`);

  const workdir = await Deno.makeTempDir({ prefix: "wirebox-bench-" });
  const started = performance.now();
  const results: CaseResult[] = [];
  try {
    for (const scenario of SCENARIOS) {
      if (only && !only.includes(scenario.name)) continue;
      console.log(`== ${scenario.name}: ${scenario.description}`);
      const absent = missingPrograms(...scenario.needs);
      if (absent.length > 0) {
        console.log(`  skip: ${absent.join(", ")} not installed (see scripts/bench/README)`);
        continue;
      }
      const cases: Case[] = await scenario.cases({ quick, workdir });
      for (const benchCase of cases) {
        console.log(`-- ${benchCase.name}`);
        results.push(await runCase(benchCase, rounds, (programs) => missingPrograms(...programs), console.log));
      }
    }
  } finally {
    await Deno.remove(workdir, { recursive: true }).catch(() => {});
  }

  const report: BenchReport = {
    date: new Date().toISOString().slice(0, 10),
    machine: machine(),
    quick,
    rounds,
    cases: results,
  };
  console.log(`\n${table(report)}\n`);
  const out = new URL("bench/results/", ROOT);
  await Deno.mkdir(out, { recursive: true });
  const stem = quick ? "quick" : "latest";
  await Deno.writeTextFile(new URL(`${stem}.json`, out), JSON.stringify(report, null, 2) + "\n");
  await Deno.writeTextFile(new URL(`${stem}.svg`, out), chart(report));
  console.log(`results: bench/results/${stem}.json, bench/results/${stem}.svg`);
  if (values.readme) {
    const readmeUrl = new URL("README.md", ROOT);
    const readme = await Deno.readTextFile(readmeUrl);
    await Deno.writeTextFile(readmeUrl, updateReadme(readme, readmeSection(report, `bench/results/${stem}.svg`)));
    // The table's columns as deno fmt lays them out, so that `deno fmt --check` stays green.
    await new Deno.Command(Deno.execPath(), { args: ["fmt", "-q", readmeUrl.pathname], stdout: "null" }).output();
    console.log("README.md benchmark section updated");
  }
  console.log(`bench took ${((performance.now() - started) / 1000).toFixed(1)} s`);
  // A peer that loses data is a finding, shown in the table; wirebox losing data fails the run.
  const failures = results.flatMap((result) => result.failures);
  const ours = failures.filter((failure) => isOurs(failure.contender)).length;
  if (failures.length > ours) console.log(`${failures.length - ours} peer run(s) lost data or crashed: see the table`);
  if (ours > 0) console.log(`${ours} wirebox run(s) FAILED verification or crashed: see the table`);
  return ours > 0 ? 1 : 0;
}

Deno.exit(await main());
