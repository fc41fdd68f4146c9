// What the sections of a lab file share while they are normalized: the problems found so far,
// the interface names of each namespace (for duplicates and references) and the addresses given.
import { HOST, type InterfaceSettings, type SrcPath } from '../model/types.js';
import { networkOf, parseAddress, parseCidr, type Cidr } from '../model/net.js';
import { addressClashes, type Domains } from '../model/domains.js';
import type { Problem } from './problems.js';
import type { SourceMap } from './source.js';
import type { Addrs, RawIface } from './raw.js';

/**
 * Interface names that collide with /proc/sys/net/ipv{4,6}/conf/{all,default}: the kernel cannot give
 * such an interface a sysctl directory of its own, and netlab's sysctl keys could not name it.
 */
export const RESERVED_IFNAMES = ['all', 'default'];
export const reservedMessage = (name: string) => `interface name '${name}' is reserved: /proc/sys/net/ipv4/conf/${name} already means "${name === 'all' ? 'every interface' : 'new interfaces'}"`;

/** An addresses field, one or a list, as a list. */
export const list = (a: Addrs): string[] => (a === undefined ? [] : Array.isArray(a) ? a : [a]);

export class LabContext {
  problems: Problem[] = [];
  /** Interfaces per namespace, for duplicate checks and sysctl/route references. */
  readonly ifaces = new Map<string, Map<string, SrcPath>>();
  /** Interface addresses per namespace, for gateway reachability. */
  readonly subnets = new Map<string, Cidr[]>();

  constructor(
    readonly src: SourceMap,
    nodeNames: string[],
  ) {
    for (const ns of nodeNames) this.ifaces.set(ns, new Map([['lo', ['nodes', ns]]]));
    this.ifaces.set(HOST, new Map());
  }

  err(path: SrcPath, message: string, hint?: string, key = false): void {
    this.problems.push(this.src.problem(path, message, hint, { key }));
  }

  claimIface(ns: string, name: string, path: SrcPath, key = false): void {
    const m = this.ifaces.get(ns)!;
    const prev = m.get(name);
    if (name === 'lo') {
      this.err(path, `interface name 'lo' is taken: it is the loopback interface of ${ns === HOST ? 'the host' : `node '${ns}'`}`, 'pick another name', key);
    } else if (prev) {
      const where = ns === HOST ? 'the host namespace' : `node '${ns}'`;
      const at = this.src.problem(prev, '');
      this.err(path, `interface name '${name}' is used twice in ${where}`, `first used at line ${at.line}`, key);
    } else m.set(name, path);
  }

  /** An interface name the kernel and netlab's commands accept; reports and returns false if not. */
  ifName(name: string, path: SrcPath, key = false): boolean {
    if (Buffer.byteLength(name) > 15) {
      this.err(path, `interface name '${name}' is ${Buffer.byteLength(name)} bytes; the kernel allows at most 15`, 'shorten it (IFNAMSIZ is 16 including the terminating NUL)', key);
      return false;
    }
    if (!/^[A-Za-z0-9_][A-Za-z0-9_.-]*$/.test(name)) {
      this.err(path, `invalid interface name '${name}'`, 'use letters, digits, _ . and - (at most 15 bytes, as the kernel allows)', key);
      return false;
    }
    if (RESERVED_IFNAMES.includes(name)) {
      this.err(path, reservedMessage(name), 'pick another name', key);
      return false;
    }
    return true;
  }

  /** Reports addresses used twice in one broadcast domain, or in one namespace and VRF. */
  addressClashes(d: Domains): void {
    for (const { site: s, first, where } of addressClashes(d)) {
      const at = this.src.problem(first.path, '');
      const there = `${first.ns === HOST ? 'host' : first.ns}:${first.iface} (${at.file}:${at.line}:${at.col})`;
      if (where === 'domain')
        this.err(
          s.path,
          `duplicate address ${s.addr} in one broadcast domain (${d.label(s.domain)}): also on ${there}`,
          'an address may repeat only in separate broadcast domains (behind another bridge or link): give one of them another address',
        );
      else
        this.err(
          s.path,
          `address ${s.addr} is on two interfaces of ${s.ns === HOST ? 'the host' : `node '${s.ns}'`}${s.vrf ? ` in VRF ${s.vrf}` : ''}: also on ${there}`,
          'give one of them another address (in one namespace and VRF only a host address, /32 or /128, may repeat, on veth ends: the CNI ptp layout)',
        );
    }
  }

  /** Settings every interface kind takes (addresses, mtu, mac, up); records the addresses. */
  iface(raw: RawIface, ns: string, addrs: Addrs, addrPath: SrcPath, mtu?: number): InterfaceSettings {
    const addresses: InterfaceSettings['addresses'] = [];
    list(addrs).forEach((a, i) => {
      const p = Array.isArray(addrs) ? [...addrPath, i] : addrPath;
      const c = parseCidr(a);
      if (!c) {
        const bare = parseAddress(a);
        const slash = /^([^/]+)\/(.*)$/.exec(a);
        const base = slash ? parseAddress(slash[1]!) : undefined;
        if (bare) this.err(p, `address '${a}' has no prefix length`, `add one, e.g. ${bare.addr}/${bare.family === 'ipv4' ? 24 : 64}`);
        else if (base)
          this.err(
            p,
            `invalid prefix length in '${a}'`,
            `an ${base.family === 'ipv4' ? 'IPv4 prefix length is 0-32' : 'IPv6 prefix length is 0-128'}, e.g. ${base.addr}/${base.family === 'ipv4' ? 24 : 64}`,
          );
        else this.err(p, `invalid address '${a}'`, 'write an address with its prefix length, e.g. 192.168.20.1/24 or 2001:db8::1/64');
        return;
      }
      if (c.family === 'ipv4' && c.len > 0 && c.len <= 30 && networkOf(c) === c.addr)
        this.err(p, `${c.text} is a network address, not an interface address`, `pick a host address inside it, e.g. ${c.addr.replace(/\d+$/, (d) => String(Number(d) + 1))}/${c.len}`);
      addresses.push({ cidr: c.text, path: p });
      if (!this.subnets.has(ns)) this.subnets.set(ns, []);
      this.subnets.get(ns)!.push(c);
    });
    const out: InterfaceSettings = { addresses, up: raw.up ?? true };
    const m = raw.mtu ?? mtu;
    if (m !== undefined) out.mtu = m;
    if (raw.mac !== undefined) out.mac = raw.mac.toLowerCase();
    return out;
  }
}
