/**
 * The benchmark harness: contenders run alternately (A B C A B C ...) for
 * several rounds in one process run, every run verifies its data (a run that
 * loses or corrupts data is a failure, not a result), and medians and
 * wirebox/peer ratios are computed from the same run.
 *
 * @module
 */

/** One contender's figures from one run, by metric name. */
export type Figures = Record<string, number>;

/**
 * Thrown by a run that completed but lost, corrupted or reordered data: the
 * run counts as a failure (it is not a result), and its figures are still
 * shown so the loss can be seen.
 */
export class DataLossError extends Error {
  readonly figures: Figures;

  constructor(message: string, figures: Figures) {
    super(message);
    this.name = "DataLossError";
    this.figures = figures;
  }
}

/** A tool taking part in a case: wirebox or a peer. */
export interface Contender {
  /** Shown in the table: "wirebox", "tftpd-hpa", "ncat --chat"... */
  name: string;
  /** Programs it needs on PATH; missing ones make it skip with a visible reason. */
  needs?: string[];
  /** Runs once and returns its figures; throws if the run lost or corrupted data. */
  run(round: number): Promise<Figures>;
}

/** How a metric reads. */
export interface Metric {
  /** Key in Figures. */
  key: string;
  /** Unit for display ("MB/s", "µs", "ms", "lines/s"). */
  unit: string;
  /** Whether more is better (throughput) or less (latency, CPU). */
  higherIsBetter: boolean;
}

/** A target the issue holds us to, checked in the report. */
export interface Target {
  /** Which metric. */
  metric: string;
  /** Describes the target as the issue states it ("≥ 1.0× best peer"). */
  text: string;
  /** Returns true when met, given medians by contender name. */
  met(medians: Record<string, number>): boolean;
}

/** A benchmark case: contenders compared on the same workload. */
export interface Case {
  scenario: string;
  name: string;
  contenders: Contender[];
  metrics: Metric[];
  targets?: Target[];
  /** Prepares shared state (files, servers) once before the rounds. */
  setup?(): Promise<void>;
  /** Releases it. */
  teardown?(): Promise<void>;
}

/** A case's outcome. */
export interface CaseResult {
  scenario: string;
  name: string;
  metrics: Metric[];
  /** Figures per contender, one per round. */
  runs: Record<string, Figures[]>;
  /** Median per contender per metric. */
  medians: Record<string, Figures>;
  /** Contenders skipped, with why. */
  skipped: Record<string, string>;
  /** Runs that failed verification or crashed, with why. */
  failures: { contender: string; round: number; error: string }[];
  /** Figures of runs that completed but lost data (not counted in the medians). */
  failedRuns: Record<string, Figures[]>;
  /** Targets with their verdict. */
  targets: { metric: string; text: string; met: boolean | undefined }[];
}

/** The median of `values` (the mean of the two middle ones for an even count). */
export function median(values: number[]): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

/** The p-th percentile (0..100) by nearest rank. */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

/** Runs a case: `rounds` rounds, contenders alternating, skipping those whose programs are missing. */
export async function runCase(
  benchCase: Case,
  rounds: number,
  missing: (programs: string[]) => string[],
  progress: (line: string) => void,
): Promise<CaseResult> {
  const result: CaseResult = {
    scenario: benchCase.scenario,
    name: benchCase.name,
    metrics: benchCase.metrics,
    runs: {},
    medians: {},
    skipped: {},
    failures: [],
    failedRuns: {},
    targets: [],
  };
  const active = benchCase.contenders.filter((contender) => {
    const absent = missing(contender.needs ?? []);
    if (absent.length > 0) result.skipped[contender.name] = `${absent.join(", ")} not installed`;
    return absent.length === 0;
  });
  for (const [name, why] of Object.entries(result.skipped)) progress(`  skip ${name}: ${why}`);
  await benchCase.setup?.();
  try {
    for (let round = 1; round <= rounds; round++) {
      // Alternate the order as well, so neither side always runs on a warmer machine.
      const order = round % 2 ? active : [...active].reverse();
      for (const contender of order) {
        try {
          const figures = await contender.run(round);
          (result.runs[contender.name] ??= []).push(figures);
          progress(`  round ${round} ${contender.name}: ${describe(figures, benchCase.metrics)}`);
        } catch (error) {
          const message = error instanceof Error ? error.message : String(error);
          result.failures.push({ contender: contender.name, round, error: message });
          if (error instanceof DataLossError) (result.failedRuns[contender.name] ??= []).push(error.figures);
          progress(`  round ${round} ${contender.name}: FAILED: ${message}`);
        }
      }
    }
  } finally {
    await benchCase.teardown?.();
  }
  for (const [name, runs] of Object.entries(result.runs)) {
    result.medians[name] = Object.fromEntries(
      benchCase.metrics.map((metric) => [metric.key, median(runs.map((figures) => figures[metric.key]))]),
    );
  }
  for (const target of benchCase.targets ?? []) {
    const byContender = Object.fromEntries(
      Object.entries(result.medians).map(([name, figures]) => [name, figures[target.metric]]),
    );
    let met: boolean | undefined;
    try {
      met = byContender.wirebox === undefined ? undefined : target.met(byContender);
    } catch {
      met = undefined;
    }
    result.targets.push({ metric: target.metric, text: target.text, met });
  }
  return result;
}

function describe(figures: Figures, metrics: Metric[]): string {
  return metrics.map((metric) => `${format(figures[metric.key])} ${metric.unit}`).join(", ");
}

/** A number with three significant digits, for tables. */
export function format(value: number | undefined): string {
  if (value === undefined || Number.isNaN(value)) return "-";
  if (value === 0) return "0";
  const magnitude = Math.abs(value);
  if (magnitude >= 1000) return Math.round(value).toLocaleString("en-US");
  return Number(value.toPrecision(3)).toString();
}

/** Target helpers. */
export const targets = {
  /** wirebox ≥ factor × the best peer (higher is better). */
  atLeastBestPeer(metric: string, factor: number): Target {
    return {
      metric,
      text: `wirebox ≥ ${factor}× best peer`,
      met(medians) {
        const peers = Object.entries(medians).filter(([name]) => !isOurs(name)).map(([, value]) => value);
        return peers.length > 0 && medians.wirebox >= factor * Math.max(...peers);
      },
    };
  },
  /** `ours` (default "wirebox") ≥ factor × a named peer (higher is better). */
  atLeast(metric: string, peer: string, factor: number, ours = "wirebox"): Target {
    return {
      metric,
      text: `${ours} ≥ ${factor}× ${peer}`,
      met: (medians) => medians[peer] !== undefined && medians[ours] >= factor * medians[peer],
    };
  },
  /** wirebox's figure within an absolute bound. */
  absolute(metric: string, op: "<=" | ">=", bound: number, unit: string): Target {
    return {
      metric,
      text: `wirebox ${op === "<=" ? "≤" : "≥"} ${bound} ${unit}`,
      met: (medians) => op === "<=" ? medians.wirebox <= bound : medians.wirebox >= bound,
    };
  },
};

/** What a scenario receives. */
export interface ScenarioOptions {
  /** A small version for smoke runs. */
  quick: boolean;
  /** A scratch folder, removed after the run. */
  workdir: string;
}

/** A family of cases. */
export interface Scenario {
  name: string;
  description: string;
  /** Programs without which the whole scenario skips. */
  needs: string[];
  cases(options: ScenarioOptions): Promise<Case[]> | Case[];
}

/** Whether a contender is wirebox (or a variant of it, such as "wirebox --no-fsync"). */
export function isOurs(name: string): boolean {
  return name === "wirebox" || name.startsWith("wirebox ");
}
