// cli/doctor: `netlab doctor`, what this machine offers netlab (tools, privileges, kernel features).
import type { Command } from 'commander';

/** Adds `netlab doctor` to the program; called once from cli/main.ts. */
export function registerDoctor(_program: Command): void {}
