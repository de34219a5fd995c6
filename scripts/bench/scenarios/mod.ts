/**
 * The benchmark scenarios, in the order they run.
 *
 * @module
 */

import type { Scenario } from "../harness.ts";
import { chat } from "./chat.ts";
import { tftp } from "./tftp.ts";
import { upload } from "./upload.ts";

/** Every scenario `deno task bench` knows. */
export const SCENARIOS: Scenario[] = [chat, upload, tftp];
