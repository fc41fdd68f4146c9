// engine/down: `netlab down`, from the lab's journal (src/apply/teardown.ts does the work).
export { down, type DownReport } from '../apply/teardown.js';
