/**
 * Something on disk or in the host that the stores do not account for (an
 * orphan, or a record whose parts are gone), found by a store's check, with
 * the way to put it right. The checks run at daemon start (and repair) and
 * on `system check`.
 */
export interface Finding {
  /** What it is: `blob`, `layer`, `mount`, `cgroup`, ... */
  kind: string;
  /** Which: an id, a digest or a path. */
  subject: string;
  detail: string;
  repair: () => Promise<void>;
}
