// Waiting (pure but for the timer): the one sleep every poll and settle uses.

/** Resolves after `ms` milliseconds. */
export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
