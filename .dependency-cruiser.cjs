// The import-layering rule, run by `npm run lint` (and so by `npm test`): imports run one way,
// from the CLI down to the ground floor, and never in a circle. docs/architecture.md explains the
// rooms. Each room may import its own floor and the floors below it, nothing above.
const floors = [
  ['src/paths.ts', 'src/hash.ts', 'src/core/'],
  ['src/model/'],
  ['src/load/', 'src/plan/'],
  ['src/render/', 'src/generate.ts'],
  ['src/runner/', 'src/privileges.ts'],
  ['src/state/', 'src/observe/', 'src/world/'],
  ['src/apply/', 'src/verify/', 'src/trace/', 'src/ops/', 'src/doctor/'],
  ['src/engine.ts', 'src/engine/'],
  ['src/ui/'],
  ['src/cli/'],
];
const re = (rooms) => `^(${rooms.map((r) => r.replace(/[.]/g, '\\.')).join('|')})`;
const forbidden = [
  { name: 'no-circular', severity: 'error', comment: 'a circle of imports: one of them belongs on a lower floor', from: {}, to: { circular: true } },
];
// Every file under src/ is on a floor: one on none imports, is imported, or stands alone.
const everyRoom = re(floors.flat());
const onNoFloor = 'a file on no floor: put it in a room of .dependency-cruiser.cjs (docs/architecture.md says which)';
forbidden.push(
  { name: 'on-no-floor', severity: 'error', comment: onNoFloor, from: { path: '^src/', pathNot: everyRoom }, to: {} },
  { name: 'on-no-floor-imported', severity: 'error', comment: onNoFloor, from: {}, to: { path: '^src/', pathNot: everyRoom } },
  { name: 'on-no-floor-alone', severity: 'error', comment: onNoFloor, from: { orphan: true, path: '^src/', pathNot: everyRoom }, to: {} },
);
floors.forEach((rooms, i) => {
  const above = floors.slice(i + 1).flat();
  if (above.length) forbidden.push({ name: `floor-${i}-imports-up`, severity: 'error', comment: `${rooms.join(', ')} may not import from a higher floor`, from: { path: re(rooms) }, to: { path: re(above) } });
});
module.exports = {
  forbidden,
  options: {
    doNotFollow: { path: 'node_modules' },
    tsConfig: { fileName: 'tsconfig.json' },
    tsPreCompilationDeps: true,
    exclude: { path: '^(dist|node_modules)' },
  },
};
