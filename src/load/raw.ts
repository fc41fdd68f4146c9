// Raw shapes as the schema admits them.
import type { IfaceSpec, IptTable } from '../model/types.js';
import type { RawImpair } from '../model/impair.js';
import type { RawCheck, RawProcess } from './checks.js';
import type { RawRoute, RawRule } from './syntax.js';

export type { RawImpair, RawRoute, RawRule };
export type Addrs = string | string[] | undefined;
export interface RawIface {
  addresses?: Addrs;
  mtu?: number;
  mac?: string;
  up?: boolean;
}
export interface RawEnd extends RawIface {
  node: string;
  name: string;
  impair?: RawImpair;
}
export interface RawInterface extends RawIface {
  type: IfaceSpec['type'];
  link?: string;
  id?: number;
  protocol?: '802.1Q' | '802.1ad';
  table?: number | string;
  mode?: IfaceSpec['mode'];
  members?: string[];
}
interface RawChain {
  policy?: 'ACCEPT' | 'DROP';
  rules?: string[];
}
export type RawTables = Partial<Record<IptTable, Record<string, string[] | RawChain>>>;
export type RawSysctls = Record<string, string | number | boolean>;
export interface RawNode {
  interfaces?: Record<string, RawInterface>;
  routes?: (string | RawRoute)[];
  rules?: (string | RawRule)[];
  sysctls?: RawSysctls;
  iptables?: RawTables;
  ip6tables?: RawTables;
  processes?: RawProcess[];
}
export type RawBridge = RawIface & { node?: string };
export interface RawLink {
  endpoints: (string | RawEnd)[];
  addresses?: Record<string, Addrs>;
  impair?: Record<string, RawImpair>;
  mtu?: number;
}
export interface RawLab {
  name: string;
  description?: string;
  ipv6_link_local?: boolean;
  nodes?: Record<string, RawNode | null>;
  bridges?: Record<string, RawBridge | null>;
  links?: RawLink[];
  host?: { sysctls?: RawSysctls; iptables?: RawTables; ip6tables?: RawTables };
  checks?: RawCheck[];
}
