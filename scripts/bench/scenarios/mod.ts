/**
 * The benchmark scenarios, in the order they run.
 *
 * @module
 */

import type { Case } from "../harness.ts";

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

/** Every scenario `deno task bench` knows. */
export const SCENARIOS: Scenario[] = [];
