// The raw shapes the sections read, named for them: all derived from raw.generated.ts, which
// `npm run build` writes from schemas/lab.schema.json, so a schema change shows here at compile time.
import type { RawBridge, RawEndpoint, RawIptables, RawRoute as RawRouteOrString, RawRule as RawRuleOrString } from './raw.generated.js';

export type { RawBridge, RawCheck, RawImpair, RawInterface, RawLab, RawLabHost, RawLink, RawNode, RawProcess, RawSysctls } from './raw.generated.js';

/** An addresses field, absent, one or a list. */
export type Addrs = RawBridge['addresses'];
/** The settings every interface kind takes. */
export type RawIface = Pick<RawBridge, 'addresses' | 'mtu' | 'mac' | 'up'>;
/** The long form of a link's end. */
export type RawEnd = Exclude<RawEndpoint, string>;
/** A route or rule written as an object. */
export type RawRouteObject = Exclude<RawRouteOrString, string>;
export type RawRuleObject = Exclude<RawRuleOrString, string>;
/**
 * An iptables or ip6tables section, of a node or of the host: the host's (built-in chains only, as
 * lists) is a special case of a node's, which the compiler checks where lab.ts passes one.
 */
export type RawTables = RawIptables;
