import { isStratusError, StratusError } from '../shared/errors.js';

/**
 * A worker's view of a replicated placement: the control-plane URLs it was given
 * (`--control-plane URL[,URL...]`) and the one it follows. A call goes to the one followed; when
 * no answer comes (a replica down or unreachable) the others are tried in turn; a heartbeat
 * refused with NotLeader goes to the leader the refusal names (else the next URL). Whichever
 * replica answered is followed from then on. Any replica serves downloads and log ingestion, so
 * only heartbeats need the leader.
 */
export class ControlPlanes {
  private readonly urls: string[];
  private current: string;

  constructor(urls: string[]) {
    this.urls = [...new Set(urls.map((u) => u.trim().replace(/\/$/, '')).filter((u) => u !== ''))];
    const first = this.urls[0];
    if (first === undefined) throw new StratusError('InvalidConfig', 'a worker needs at least one --control-plane URL');
    this.current = first;
  }

  /** Parses `--control-plane URL[,URL...]`. */
  static parse(list: string): ControlPlanes {
    return new ControlPlanes(list.split(','));
  }

  /** The URL followed now. */
  get url(): string {
    return this.current;
  }

  /**
   * Runs `call` against the followed URL, then the others as described above; rejects with the
   * last failure once every URL (and every leader named) was tried once. An error the control
   * plane answered (other than NotLeader) is its answer and is not tried elsewhere.
   */
  async call<T>(call: (url: string) => Promise<T>): Promise<T> {
    const tried = new Set<string>();
    let next: string | undefined = this.current;
    let last: unknown;
    while (next !== undefined) {
      tried.add(next);
      try {
        const result = await call(next);
        this.current = next;
        return result;
      } catch (err) {
        last = err;
        if (isStratusError(err) && err.code !== 'NotLeader') throw err;
        const named = isStratusError(err) ? err.details.leader : undefined;
        next = named !== undefined && !tried.has(named) ? named : this.urls.find((u) => !tried.has(u));
      }
    }
    throw last;
  }
}
