// engine/trace: `netlab trace`, one probe's connection through the lab (src/trace/ does the work).
export { trace, formatTrace } from '../trace/trace.js';
