// Ownership is proven, never assumed. A journal entry is a claim; before netlab changes or deletes
// an object it proves the object is this lab's, from what the kernel shows now:
// - a namespace by its identity: the inode of its nsfs file and that inode's mtime (set when the
//   namespace was bound to /run/netns and never changed: nsfs inode numbers are reused, the pair
//   is not), recorded once the namespace was proven the lab's, and by the mark on its lo;
// - a host link by its mark (ifalias) and its ifindex as recorded.
// Pure: the readers give what they saw, these functions judge.
import { markOf } from './types.js';

/** A namespace's identity. */
export interface NsId {
  ino: number;
  /** mtime of the nsfs inode, "seconds.nanoseconds". */
  mtime: string;
}

export type Verdict = { ours: true } | { ours: false; why: string };

export const sameNsId = (a: NsId | undefined, b: NsId | undefined): boolean => !!a && !!b && a.ino === b.ino && a.mtime === b.mtime;

/** How a mark reads in a message: "marked netlab:b", "unmarked", "alias 'x'". */
export function markText(mark: string | undefined): string {
  if (!mark) return 'unmarked';
  return mark.startsWith('netlab:') ? `marked ${mark}` : `alias '${mark}'`;
}

/** The lab a mark names, if it is another lab's. */
export function otherLab(lab: string, mark: string | undefined): string | undefined {
  return mark?.startsWith('netlab:') && mark !== markOf(lab) ? mark.slice(7) : undefined;
}

/**
 * Is the namespace this lab's? `rec` is the identity the journal recorded (none for a claim made
 * before creation, or a journal older than identities); `seen` what the kernel shows: its identity
 * and, when it was read, the mark on its lo (`mark: undefined` with `markRead`: unmarked).
 *
 * - Identity recorded: the namespace must be that one. It was recorded when the lab had just
 *   created it (`ip netns add` succeeds only for a new name) or found it carrying its mark, so an
 *   equal identity proves it the lab's, marked or not (an `up` killed before it marked lo leaves
 *   it unmarked). A namespace that carries another lab's mark is never the lab's.
 * - No identity: only the lab's own mark proves it (old journals; claims never confirmed).
 */
export function judgeNs(lab: string, rec: NsId | undefined, seen: { id?: NsId; mark?: string; markRead: boolean }): Verdict {
  const other = seen.markRead && seen.mark !== undefined && seen.mark !== markOf(lab);
  if (rec) {
    if (!sameNsId(rec, seen.id)) return { ours: false, why: `it was re-created since this lab made it${seen.markRead ? ` (${markText(seen.mark)})` : ''}` };
    if (other) return { ours: false, why: markText(seen.mark) };
    return { ours: true };
  }
  if (seen.markRead && seen.mark === markOf(lab)) return { ours: true };
  return { ours: false, why: seen.markRead ? markText(seen.mark) : 'its mark was not read' };
}

/** Is the host link this lab's? Its mark must be the lab's, and its ifindex the one recorded (when one was). */
export function judgeLink(lab: string, rec: number | undefined, seen: { alias?: string; ifindex?: number }): Verdict {
  if (seen.alias !== markOf(lab)) return { ours: false, why: markText(seen.alias) };
  if (rec !== undefined && seen.ifindex !== rec)
    return { ours: false, why: `marked ${markOf(lab)}, but not the one this lab made (ifindex ${seen.ifindex ?? '?'}, recorded ${rec}): made by another run of a lab of this name` };
  return { ours: true };
}
