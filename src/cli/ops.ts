// cli/ops: commands for operating a running lab (exec, shell, capture) and drawing it (graph).
import type { Command } from 'commander';

/** Adds the operating commands to the program; called once from cli/main.ts. */
export function registerOps(_program: Command): void {}
