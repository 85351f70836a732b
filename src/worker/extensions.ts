import { randomUUID } from 'node:crypto';
import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * The extensions of one environment (Lambda's Extensions API 2020-01-01, its state only; the
 * HTTP is in extensions-api.ts). External extensions are the executables of /opt/extensions,
 * started by stratus-init before the runtime; an internal one is a process of the runtime that
 * registers under another name during init. Init is complete once every external extension has
 * registered and every registered one has asked for its next event; after an invoke the
 * environment is reused only once each extension subscribed to INVOKE has asked again.
 */
export type ExtensionEventType = 'INVOKE' | 'SHUTDOWN';

export type ExtensionEvent =
  | { eventType: 'INVOKE'; deadlineMs: number; requestId: string; invokedFunctionArn: string; tracing: { type: 'X-Amzn-Trace-Id'; value: string } }
  | { eventType: 'SHUTDOWN'; shutdownReason: 'spindown' | 'timeout' | 'failure'; deadlineMs: number };

interface Extension {
  id: string;
  name: string;
  external: boolean;
  events: ReadonlySet<ExtensionEventType>;
  /** Set while it waits in GET /event/next. */
  waiting?: (event: ExtensionEvent) => void;
  /** Events not yet taken (at most one INVOKE and one SHUTDOWN). */
  queue: ExtensionEvent[];
  /** It has an event it is still working on (or its init): not yet back in /event/next. */
  busy: boolean;
  /** It was given the SHUTDOWN. */
  sawShutdown?: boolean;
  /** It asked for its next event after the SHUTDOWN (or exited): done for good. */
  shut: boolean;
}

/** Why a registration is refused: Lambda's error type and message (HTTP 403). */
export type Refusal = { errorType: string; errorMessage: string };

/** Lambda runs at most ten extensions per function. */
export const MAX_EXTENSIONS = 10;
/** What stratus-init starts (a name it can pass on; see native/stratus-init.c). */
const EXTENSION_NAME = /^[A-Za-z0-9_-][A-Za-z0-9._-]*$/;

/**
 * The external extensions `optDir` (the layers' merge, or an image's /opt) holds: the executable
 * regular files of its extensions/ directory, by name (never following a link out of it).
 */
export async function externalExtensions(optDir: string | undefined): Promise<string[]> {
  if (!optDir) return [];
  const dir = join(optDir, 'extensions');
  // An image's /opt or /opt/extensions may be a link (to a path that would be the host's here).
  const real = async (path: string) => (await lstat(path).catch(() => undefined))?.isDirectory() === true;
  if (!(await real(optDir)) || !(await real(dir))) return [];
  const names = await readdir(dir);
  const found: string[] = [];
  for (const name of names.sort()) {
    const st = await lstat(join(dir, name)).catch(() => undefined);
    if (found.length < MAX_EXTENSIONS && EXTENSION_NAME.test(name) && st?.isFile() && (st.mode & 0o111) !== 0) found.push(name);
  }
  return found;
}

export class ExtensionHost {
  private readonly byId = new Map<string, Extension>();
  /** The external extensions' names (the executables stratus-init starts). */
  expected: readonly string[] = [];
  private registrationOpen = true;
  private waiters: { ready: () => boolean; then: () => void }[] = [];

  /** The external extensions stratus-init starts (known before the sandbox starts). */
  expect(names: readonly string[]): void {
    this.expected = names;
  }

  get any(): boolean {
    return this.byId.size > 0 || this.expected.length > 0;
  }

  register(name: string | undefined, events: unknown): { id: string } | Refusal {
    if (!name) return { errorType: 'Extension.MissingHeader', errorMessage: 'Missing Lambda-Extension-Name header' };
    if (!this.registrationOpen) return { errorType: 'Extension.RegistrationClosed', errorMessage: 'Extension registration closed already' };
    if ([...this.byId.values()].some((e) => e.name === name)) return { errorType: 'Extension.InvalidExtensionState', errorMessage: 'Extension with this name already registered' };
    if (this.byId.size >= MAX_EXTENSIONS) return { errorType: 'Extension.TooManyExtensions', errorMessage: `Extension limit (${MAX_EXTENSIONS}) reached` };
    const external = this.expected.includes(name);
    const list = Array.isArray(events) ? events : [];
    const allowed: ExtensionEventType[] = external ? ['INVOKE', 'SHUTDOWN'] : ['INVOKE'];
    const bad = list.find((e) => !allowed.includes(e as ExtensionEventType));
    if (!Array.isArray(events) || bad !== undefined) return { errorType: 'Extension.InvalidEventType', errorMessage: `Invalid event type: ${String(bad ?? events)}` };
    const id = randomUUID();
    this.byId.set(id, { id, name, external, events: new Set(list as ExtensionEventType[]), queue: [], busy: true, shut: false });
    return { id };
  }

  nameOf(id: string | undefined): string | undefined {
    return id === undefined ? undefined : this.byId.get(id)?.name;
  }

  eventsOf(id: string): ExtensionEventType[] {
    return [...(this.byId.get(id)?.events ?? [])];
  }

  /** GET /event/next: `deliver` gets its next event; false for an unknown identifier. */
  next(id: string | undefined, deliver: (event: ExtensionEvent) => void): boolean {
    const ext = id === undefined ? undefined : this.byId.get(id);
    if (!ext) return false;
    if (ext.sawShutdown) ext.shut = true;
    ext.busy = false;
    ext.waiting = deliver;
    this.pump(ext);
    this.wake();
    return true;
  }

  /** Every external extension registered and every registered one asked for its next event. */
  get initDone(): boolean {
    return this.expected.every((name) => [...this.byId.values()].some((e) => e.name === name)) && [...this.byId.values()].every((e) => !e.busy);
  }

  /** No extension is working on an event (init included). */
  get idle(): boolean {
    for (const e of this.byId.values()) if (e.busy) return false;
    return true;
  }

  /** Calls `then` once `ready()` holds (at once if it does). */
  when(ready: () => boolean, then: () => void): void {
    if (ready()) then();
    else this.waiters.push({ ready, then });
  }

  closeRegistration(): void {
    this.registrationOpen = false;
  }

  /** Sends `event` to every extension subscribed to its type; they are busy until they ask again. */
  send(event: ExtensionEvent): void {
    for (const ext of this.byId.values()) {
      if (!ext.events.has(event.eventType) || ext.shut) continue;
      ext.queue.push(event);
      ext.busy = true;
      this.pump(ext);
    }
  }

  /** Whether any extension takes SHUTDOWN. */
  get wantsShutdown(): boolean {
    return [...this.byId.values()].some((e) => e.events.has('SHUTDOWN') && !e.shut);
  }

  /** Every extension subscribed to SHUTDOWN has asked for its next event after it, or exited. */
  get shutDown(): boolean {
    return [...this.byId.values()].every((e) => !e.events.has('SHUTDOWN') || e.shut);
  }

  /** An extension's process exited (stratus-init says so): it will never ask again. */
  exited(name: string): void {
    for (const ext of this.byId.values()) {
      if (ext.name !== name) continue;
      ext.busy = false;
      ext.shut = true;
      ext.queue = [];
    }
    this.wake();
  }

  private pump(ext: Extension): void {
    const event = ext.queue.shift();
    if (!event || !ext.waiting) {
      if (event) ext.queue.unshift(event);
      return;
    }
    const deliver = ext.waiting;
    ext.waiting = undefined;
    ext.busy = true;
    if (event.eventType === 'SHUTDOWN') ext.sawShutdown = true;
    deliver(event);
  }

  private wake(): void {
    const due = this.waiters.filter((w) => w.ready());
    this.waiters = this.waiters.filter((w) => !due.includes(w));
    for (const w of due) w.then();
  }
}
