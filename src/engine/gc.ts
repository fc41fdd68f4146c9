// engine/gc: `netlab gc`, what carries netlab's mark but no lab's journal (src/apply/gc.ts does the work).
export { gc } from '../apply/gc.js';
