// engine/trace: `netlab trace`, one probe's path through netfilter (src/trace/ does the work).
export { trace } from '../trace/trace.js';
export { formatTrace } from '../trace/parse.js';
