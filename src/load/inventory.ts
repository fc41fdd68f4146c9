// An Ansible YAML inventory as the hosts of a lab (`--inventory FILE`): teams keep one already.
// all.hosts.NAME and all.children.GROUP.hosts.NAME (nested groups too), with the group's vars
// under the host's own: ansible_host, ansible_user, ansible_port, ansible_connection: local,
// ansible_become; netlab_address (the underlay address, default ansible_host) and netlab_mtu.
import type { LabHost, SrcPath } from '../model/types.js';
import { labHost } from './hosts.js';
import { LabError, sortProblems, type Problem } from './problems.js';
import { readLabBytes } from './read.js';
import { SourceMap } from './source.js';
import { parseLabYaml } from './yaml.js';

type Vars = Record<string, unknown>;
const isObj = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

export function loadInventoryFile(file: string): Map<string, LabHost> {
  return loadInventory(readLabBytes(file).toString('utf8'), file);
}

export function loadInventory(text: string, file: string): Map<string, LabHost> {
  const src = new SourceMap(file);
  const data = parseLabYaml(text, src);
  const problems: Problem[] = [];
  const err = (path: SrcPath, message: string, hint?: string) => problems.push(src.problem(path, message, hint));
  const found = new Map<string, { vars: Vars; path: SrcPath }>();
  const group = (g: unknown, path: SrcPath, inherited: Vars) => {
    if (g === null || g === undefined) return;
    if (!isObj(g)) return err(path, 'an inventory group is a mapping', 'hosts:, children:, vars:');
    const vars = { ...inherited, ...(isObj(g.vars) ? g.vars : {}) };
    if (g.hosts !== undefined && g.hosts !== null && !isObj(g.hosts)) err([...path, 'hosts'], 'hosts is a mapping of host names', 'node1: {ansible_host: 192.168.56.11}');
    for (const [name, h] of Object.entries(isObj(g.hosts) ? g.hosts : {})) {
      const prev = found.get(name);
      found.set(name, { vars: { ...prev?.vars, ...vars, ...(isObj(h) ? h : {}) }, path: prev?.path ?? [...path, 'hosts', name] });
    }
    for (const [name, c] of Object.entries(isObj(g.children) ? g.children : {})) group(c, [...path, 'children', name], vars);
  };
  if (!isObj(data) || !isObj(data.all)) err([], 'an Ansible YAML inventory starts with all:', 'all: {hosts: {node1: {ansible_host: 192.168.56.11}}}');
  else group(data.all, ['all'], {});
  const hosts = new Map<string, LabHost>();
  for (const [name, { vars: v, path }] of found) {
    const str = (k: string) => (typeof v[k] === 'string' || typeof v[k] === 'number' ? String(v[k]) : undefined);
    const target = str('ansible_host') ?? name;
    const address = str('netlab_address') ?? target;
    const local = v.ansible_connection === 'local';
    const user = str('ansible_user');
    const port = str('ansible_port');
    const ssh = `${user ? `${user}@` : ''}${target}${port && port !== '22' ? `:${port}` : ''}`;
    const mtu = v.netlab_mtu !== undefined ? Number(v.netlab_mtu) : undefined;
    const become = v.ansible_become === true || v.ansible_become === 'true' || v.ansible_become === 'yes';
    const spec = { address, ...(local ? { local: true as const } : { ssh }), ...(mtu !== undefined ? { mtu } : {}), ...(become ? { sudo: true } : {}) };
    // An address problem here is about ansible_host or netlab_address: say which host, and the fix.
    const h = labHost(name, spec, path, (p, m, hint) =>
      /not an IPv4 address/.test(m)
        ? err([...path, str('netlab_address') !== undefined ? 'netlab_address' : 'ansible_host'], `host '${name}': ${m}`, 'set netlab_address: the underlay IPv4 address (when ansible_host is a name)')
        : err(p, m, hint),
    );
    if (h) hosts.set(name, h);
  }
  if (problems.length) throw new LabError(sortProblems(problems));
  return hosts;
}
