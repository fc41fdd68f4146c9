// placeholder replaced below
import type { Lab } from '../model/types.js';
import type { CommandRunner } from '../runner/runner.js';
import { batchSteps } from './steps.js';
export interface InteractiveOptions {
  start: number;
  trustVerified: boolean;
  self: string[];
  commands: string[];
}
export async function interactive(runner: CommandRunner, lab: Lab, _o: InteractiveOptions): Promise<void> {
  await batchSteps(runner, lab, { json: false });
}
